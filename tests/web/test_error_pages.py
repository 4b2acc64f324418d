"""People get an HTML page with a way back; machines keep the JSON error shape."""

from __future__ import annotations

import httpx
from starlette.requests import Request

from web.errors import server_error_handler

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_a_browser_gets_an_html_404_with_a_way_back(client: httpx.AsyncClient) -> None:
    page = await client.get("/no/such/page", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and 'href="/"' in page.text


async def test_the_api_keeps_json_404s_even_for_a_browser(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/no-such-thing", headers=BROWSER)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


async def test_a_client_asking_for_json_gets_json(client: httpx.AsyncClient) -> None:
    answer = await client.get("/no/such/page", headers={"Accept": "application/json"})
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"
    plain = await client.get("/no/such/page")  # Accept: */*
    assert plain.json()["error"] == "not_found"


async def test_a_wrong_method_on_a_page_is_json_for_posts(client: httpx.AsyncClient) -> None:
    answer = await client.post("/login", headers=BROWSER)
    assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"


def _request(accept: str, path: str = "/inbox") -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"accept", accept.encode())],
    }
    return Request(scope)


async def test_a_failing_page_shows_an_html_500_to_a_browser_and_json_to_the_api() -> None:
    page = await server_error_handler(_request(BROWSER["Accept"]), RuntimeError("boom"))
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert b"Something went wrong" in page.body and b"boom" not in page.body
    api = await server_error_handler(_request(BROWSER["Accept"], "/api/x"), RuntimeError("boom"))
    assert api.status_code == 500 and b'"error":"internal"' in api.body
