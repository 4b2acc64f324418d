"""Erasure reaches live state too: open sockets close, tokens stop working, Redis holds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import LiveServer, make_settings, start_server
from tests.helpers import Account, new_client, signup
from tests.web.realtime import (
    ORIGIN,
    close_all_sockets,
    operator_socket,
    started_visitor,
    visitor_session,
    visitor_socket,
    widget_channel,
)


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client)
    await close_all_sockets()


async def _contact_of(owner: Account, conversation_id: str) -> str:
    response = await owner.get(f"/api/conversations/{conversation_id}")
    return str(response.json()["contact"]["id"])


async def test_erasing_a_contact_closes_its_open_socket_with_1008(
    owner: Account, live: LiveServer
) -> None:
    session = await started_visitor(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    contact = await _contact_of(owner, session["conversation_id"])
    assert (await owner.delete(f"/api/contacts/{contact}")).status_code == 204
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await visitor.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_an_erased_visitors_token_gets_403(owner: Account, live: LiveServer) -> None:
    widget = await widget_channel(owner)
    session = await started_visitor(owner, widget)
    contact = await _contact_of(owner, session["conversation_id"])
    assert (await owner.delete(f"/api/contacts/{contact}")).status_code == 204
    again = await owner.client.post(
        "/api/widget/sessions",
        json={"key": widget.key, "visitor_token": session["visitor_token"]},
        headers={"Origin": ORIGIN},
    )
    assert again.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        await visitor_socket(session["ws_url"])
    assert refused.value.response.status_code == 403


async def test_redis_holds_nothing_of_an_erased_contact(db_url: str, redis_url: str) -> None:
    live, server, task = await start_server(make_settings(db_url, redis_url))
    try:
        async with new_client(live.url) as client:
            owner = await signup(client)
            session = await visitor_session(owner, await widget_channel(owner))
            operator = await operator_socket(owner, live.ws_url)
            visitor = await visitor_socket(session["ws_url"])
            await visitor.send({"type": "send", "ref": 1, "text": "my secret order 4711"})
            await operator.wait_for(type="message")
            contact = await _contact_of(owner, session["conversation_id"])
            assert (await owner.delete(f"/api/contacts/{contact}")).status_code == 204
            await close_all_sockets()
        store = redis.from_url(redis_url)
        try:
            needles = (contact, session["conversation_id"], "4711")
            async for key in store.scan_iter(count=1000):
                text = key.decode(errors="replace")
                value = await store.dump(key) or b""
                for needle in needles:
                    assert needle not in text and needle.encode() not in value
        finally:
            await store.aclose()
    finally:
        server.should_exit = True
        await task
