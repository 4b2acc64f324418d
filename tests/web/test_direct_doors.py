"""A per-message door is served ahead of the router, and answers as the router would."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from web.direct_doors import DirectDoors
from web.errors import ApiError, api_error_handler, server_error_handler


class Boom(Exception):
    """An error no handler names."""


async def door(request: Request) -> Response:
    what = request.path_params["what"]
    if what == "refused":
        raise ApiError(429, "rate_limited", "Too many requests for this channel.")
    if what == "broken":
        raise Boom
    return JSONResponse({"served": what, "by_router": "router" in request.scope})


async def elsewhere(request: Request) -> Response:
    return PlainTextResponse("router")


def app() -> Starlette:
    direct = [Route("/door/{what}", door, methods=["POST"])]
    handlers = {ApiError: api_error_handler}
    return Starlette(
        routes=[*direct, Route("/elsewhere", elsewhere)],
        middleware=[Middleware(DirectDoors, routes=direct, handlers=handlers)],
        exception_handlers={**handlers, Exception: server_error_handler},
    )


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_matching_request_reaches_its_endpoint_without_the_router() -> None:
    async with client() as c:
        r = await c.post("/door/in")
    assert r.json() == {"served": "in", "by_router": False}


async def test_what_the_endpoint_raises_is_answered_by_the_apps_handler() -> None:
    async with client() as c:
        r = await c.post("/door/refused")
    assert (r.status_code, r.json()["error"]) == (429, "rate_limited")


async def test_an_error_no_handler_names_is_a_500_from_the_server_error_middleware() -> None:
    async with client() as c:
        r = await c.post("/door/broken")
    assert (r.status_code, r.json()["error"]) == (500, "internal")


async def test_a_wrong_method_goes_on_to_the_router_and_is_a_405() -> None:
    async with client() as c:
        r = await c.get("/door/in")
    assert r.status_code == 405


@pytest.mark.parametrize("path", ["/door/in/more", "/door/", "/doors/in", "/door"])
async def test_a_path_that_is_not_the_door_and_one_segment_goes_on_to_the_router(
    path: str,
) -> None:
    async with client() as c:
        r = await c.post(path)
    assert r.status_code == 404


async def test_the_parameter_is_the_last_segment_as_sent() -> None:
    async with client() as c:
        r = await c.post("/door/a%20b.c")
    assert r.json()["served"] == "a b.c"


async def test_other_paths_go_on_to_the_router() -> None:
    async with client() as c:
        r = await c.get("/elsewhere")
    assert r.text == "router"


def test_a_synchronous_endpoint_is_refused_when_the_app_is_built() -> None:
    def sync_door(request: Request) -> Response:
        return PlainTextResponse("")

    with pytest.raises(TypeError, match="async endpoint"):
        DirectDoors(elsewhere, [Route("/sync", sync_door)], {})


@pytest.mark.parametrize("path", ["/door", "/door/{what}/more", "/door/{what:int}", "/{a}/{b}"])
def test_a_door_of_another_shape_than_a_literal_and_one_parameter_is_refused(path: str) -> None:
    with pytest.raises(TypeError, match="a literal path and one parameter"):
        DirectDoors(Starlette(), [Route(path, door, methods=["POST"])], {})
