"""The ``http`` step: a signed JSON call to an outside HTTPS service whose answer's fields
become variables, and its error branch. The service is a fake on loopback reached through
``INVIARO_PROVIDER_ORIGINS``; loopback is allowed only because the test server says so."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests import loopback
from tests.conftest import LiveServer, free_port
from tests.helpers import Account, new_client, signup
from tests.web.test_flow_runs import bot_texts, custom_channel, publish, runner, runs
from tests.web.webhook_hub import Hub, hub_server


class Service:
    """The business's order service: answers an order's state, or fails when asked to."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/orders", self.orders, methods=["POST"])])

    async def orders(self, request: Request) -> JSONResponse:
        body = await request.body()
        self.calls.append((dict(request.headers), body))
        if b"broken" in body:
            return JSONResponse({"error": "down"}, status_code=503)
        return JSONResponse({"order": {"state": "shipped", "eta": "Friday"}})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Service]:
        async with loopback.serving(self.app, self.port):
            yield self


@pytest.fixture(scope="module")
async def service() -> AsyncIterator[Service]:
    async with Service().serving() as serving:
        yield serving


@pytest.fixture(scope="module")
async def hub(db_url: str, service: Service) -> AsyncIterator[Hub]:
    origins = (("https://orders.example.com", f"http://127.0.0.1:{service.port}"),)
    async with hub_server(db_url, provider_origins=origins, flow_http_allow_private=True) as h:
        yield h


STEPS: dict[str, Any] = {
    "q": {
        "type": "ask",
        "text": "Order number?",
        "input": "text",
        "save_as": "vars.order",
        "next": "call",
    },
    "call": {
        "type": "http",
        "url": "https://orders.example.com/orders",
        "body": {"order": "{{vars.order}}"},
        "save": {"state": "json.order.state"},
        "next": "ok",
        "on_error": "bad",
    },
    "ok": {"type": "send", "text": "Order {{vars.order}} is {{vars.state}}."},
    "bad": {"type": "send", "text": "Our order system is away; an operator will help."},
}


async def conversation(owner: Account, live: LiveServer, answer: str) -> str:
    shop = await custom_channel(owner)
    first = await shop.deliver("m-1", "hi")
    await runner(live).idle()
    await shop.deliver("m-2", answer)
    await runner(live).idle()
    return str(first["conversation_id"])


async def test_the_answer_is_saved_and_the_call_is_signed(hub: Hub, service: Service) -> None:
    async with new_client(hub.live.url) as client:
        owner = await signup(client)
        await publish(owner, STEPS, "q")
        conv = await conversation(owner, hub.live, "A-17")
        assert await bot_texts(owner, conv) == ["Order number?", "Order A-17 is shipped."]
        secret = (await owner.get("/api/flows/secret")).json()["secret"]
    headers, body = service.calls[-1]
    assert body == b'{"order":"A-17"}'
    key = bytes.fromhex(secret)
    assert (
        headers["x-inviaro-signature"]
        == "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    )


async def test_a_failing_service_takes_the_error_branch(hub: Hub) -> None:
    async with new_client(hub.live.url) as client:
        owner = await signup(client)
        await publish(owner, STEPS, "q")
        conv = await conversation(owner, hub.live, "broken")
        assert await bot_texts(owner, conv) == [
            "Order number?",
            "Our order system is away; an operator will help.",
        ]
        (run,) = await runs(owner, conv)
        assert "call failed: answered 503" in [s["outcome"] for s in run["steps"]]


async def test_a_private_address_is_refused_unless_allowed(
    owner_live: tuple[Account, LiveServer],
) -> None:
    owner, live = owner_live
    steps = {**STEPS, "call": {**STEPS["call"], "url": "https://127.0.0.1:9/orders"}}
    await publish(owner, steps, "q")
    conv = await conversation(owner, live, "A-1")
    assert (await bot_texts(owner, conv))[-1] == "Our order system is away; an operator will help."
    (run,) = await runs(owner, conv)
    assert "call failed: the host is a private or loopback address" in [
        s["outcome"] for s in run["steps"]
    ]


@pytest.fixture
async def owner_live(live: LiveServer) -> AsyncIterator[tuple[Account, LiveServer]]:
    async with live.client() as client:
        yield await signup(client), live


async def test_agents_may_not_read_the_flow_secret(owner_live: tuple[Account, LiveServer]) -> None:
    from tests.helpers import add_operator

    owner, live = owner_live
    agent = await add_operator(owner, "agent", live.url)
    assert (await agent.get("/api/flows/secret")).status_code == 403
    assert len((await owner.get("/api/flows/secret")).json()["secret"]) == 64
    await agent.client.aclose()
