"""Flooding the doors, as the attacks: widget sessions from one address or on one channel,
many sockets on one visitor token, webhooks and ingest per channel, and the API per
operator. Each runs with the in-process limiter and with the Redis one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub.ids import new_id
from hub.ratelimit import Limit
from storage import models as m
from storage.db import make_engine
from tests.conftest import LiveServer
from tests.helpers import Account, api_token, auth_headers, random_address, signup
from tests.web.limited import limiter_redis_url, server
from tests.web.realtime import ORIGIN, Widget, widget_channel

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

TIMEOUT = 10.0


@pytest.fixture(scope="module", params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> str | None:
    """The server's REDIS_URL: None picks the in-process limiter."""
    return limiter_redis_url(request.param)


@pytest.fixture(scope="module")
async def live(db_url: str, limiter: str | None) -> AsyncIterator[LiveServer]:
    """A server with the default limits."""
    async with server(db_url, limiter) as live:
        yield live


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with live.client() as client:
        yield await signup(client)


async def count(live: LiveServer, model: Any, *where: Any) -> int:
    engine = make_engine(live.settings.database_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(model).where(*where)))
    finally:
        await engine.dispose()


def refused(response: httpx.Response) -> bool:
    """A 429 in the contract's shape, with a Retry-After a client can wait for."""
    return (
        response.status_code == 429
        and response.json()["error"] == "rate_limited"
        and bool(response.json()["detail"])
        and int(response.headers["retry-after"]) > 0
    )


async def widget_session(
    client: httpx.AsyncClient, widget: Widget, address: str, token: str | None = None
) -> httpx.Response:
    body = {"key": widget.key} | ({"visitor_token": token} if token else {})
    return await client.post(
        "/api/widget/sessions",
        json=body,
        headers={"Origin": ORIGIN, "X-Forwarded-For": address},
    )


async def test_a_hundred_widget_sessions_from_one_address_stop_at_the_limit(
    live: LiveServer, owner: Account
) -> None:
    widget = await widget_channel(owner)
    flooder = random_address()
    limit = live.settings.limit_widget_sessions
    started = time.monotonic()
    async with live.client() as client:
        answers = [await widget_session(client, widget, flooder) for _ in range(100)]
        elapsed = time.monotonic() - started
        created = [a for a in answers if a.status_code == 201]
        # The whole budget at once, then what refilled while the flood ran, never more.
        assert limit.count <= len(created) <= limit.count + elapsed / limit.interval
        assert all(refused(a) for a in answers if a.status_code != 201)
        assert (await widget_session(client, widget, random_address())).status_code == 201
        metrics = (await client.get("/metrics")).text
        assert 'inviaro_rate_limited_total{door="widget"}' in metrics
    # A session stores nothing before the visitor writes: the flood left no rows at all.
    assert await count(live, m.Contact, m.Contact.workspace_id == owner.workspace_id) == 0
    conversations = m.Conversation.workspace_id == owner.workspace_id
    assert await count(live, m.Conversation, conversations) == 0


async def test_widget_sessions_on_one_channel_stop_at_its_limit(
    db_url: str, limiter: str | None
) -> None:
    async with server(db_url, limiter, limit_widget_sessions_channel=Limit(3, 3600)) as live:
        async with live.client() as client:
            owner = await signup(client)
            widget, other = await widget_channel(owner), await widget_channel(owner)
            statuses = [
                (await widget_session(client, widget, random_address())).status_code
                for _ in range(3)
            ]
            assert statuses == [201] * 3
            assert refused(await widget_session(client, widget, random_address()))
            assert (await widget_session(client, other, random_address())).status_code == 201


async def open_visitor_socket(ws_url: str) -> ClientConnection | int:
    """The open socket (its hello read), or the close code it was refused with."""
    ws = await connect(
        ws_url, additional_headers={"Origin": ORIGIN}, open_timeout=TIMEOUT, max_queue=None
    )
    try:
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006
    assert hello["type"] == "hello"
    return ws


async def test_twenty_sockets_on_one_visitor_token_share_one_visitors_budget(
    live: LiveServer, owner: Account
) -> None:
    widget = await widget_channel(owner)
    async with live.client() as client:
        session = (await widget_session(client, widget, random_address())).json()
    opened = await asyncio.gather(*(open_visitor_socket(session["ws_url"]) for _ in range(20)))
    sockets = [ws for ws in opened if not isinstance(ws, int)]
    assert len(sockets) == live.settings.visitor_sockets
    assert [code for code in opened if isinstance(code, int)] == [1008] * 10
    started = time.monotonic()
    try:
        for ws in sockets:
            for n in range(10):
                await ws.send(
                    orjson.dumps({"type": "send", "ref": str(n), "text": "flood"}).decode()
                )
        replies = []
        for ws in sockets:
            while len([r for r in replies if r[0] is ws]) < 10:
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if frame["type"] in ("ack", "error"):
                    replies.append((ws, frame))
    finally:
        for ws in sockets:
            await ws.close()
    elapsed = time.monotonic() - started
    acks = sum(1 for _, frame in replies if frame["type"] == "ack")
    per_10s = live.settings.messages_per_10s
    # One visitor's budget: its burst, and what refilled while the test ran, never more.
    assert acks <= per_10s + per_10s / 10 * elapsed
    assert any(frame.get("code") == "rate_limited" for _, frame in replies)
    stored = await count(live, m.Message, m.Message.conversation_id == session["conversation_id"])
    assert stored == acks


async def test_a_providers_burst_of_webhooks_is_not_limited(live: LiveServer) -> None:
    channel = new_id("ch_")  # none such
    async with httpx.AsyncClient(base_url=live.url, timeout=60.0) as client:
        answers = await asyncio.gather(
            *(client.post(f"/webhooks/meta/{channel}", content=b"{}") for _ in range(300))
        )
    assert {a.status_code for a in answers} == {404}  # no such channel; never 429


async def test_webhooks_and_ingest_are_limited_per_channel(
    db_url: str, limiter: str | None
) -> None:
    async with server(db_url, limiter, limit_channel_requests=Limit(5, 3600)) as live:
        async with live.client() as client:
            owner = await signup(client)
            channel = (await owner.post("/api/channels", {"kind": "custom", "name": "CRM"})).json()
            ingest = f"/api/ingest/{channel['id']}"
            headers = auth_headers(channel["ingest_token"])
            statuses = [
                (await client.post(ingest, json={"messages": []}, headers=headers)).status_code
                for _ in range(5)
            ]
            assert 429 not in statuses
            assert refused(await client.post(ingest, json={"messages": []}, headers=headers))
            flooded, other = f"/webhooks/meta/{new_id('ch_')}", f"/webhooks/meta/{new_id('ch_')}"
            for _ in range(5):
                assert (await client.post(flooded, content=b"{}")).status_code == 404
            assert refused(await client.post(flooded, content=b"{}"))
            assert (await client.post(other, content=b"{}")).status_code == 404


async def test_the_api_is_limited_per_operator_whatever_the_credential(
    db_url: str, limiter: str | None
) -> None:
    async with server(db_url, limiter, limit_api=Limit(6, 3600)) as live:
        async with live.client() as client:
            owner = await signup(client)
            token = await api_token(owner)  # the first of six
            for _ in range(3):
                assert (await owner.get("/api/me")).status_code == 200
            assert (await client.get("/api/me", headers=auth_headers(token))).status_code == 200
            assert (await owner.get("/api/me")).status_code == 200
            assert refused(await owner.get("/api/me"))
            assert refused(await client.get("/api/me", headers=auth_headers(token)))
        async with live.client() as other_client:
            other = await signup(other_client)
            assert (await other.get("/api/me")).status_code == 200
