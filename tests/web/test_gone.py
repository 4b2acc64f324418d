"""Sockets and doors of principals that went away, on one process (SQLite and Postgres).

Across processes: tests/system/test_gone_cluster.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hub.model import utcnow
from storage import models as m
from storage.db import make_engine
from tests.conftest import SECRET, LiveServer, make_settings, start_server
from tests.helpers import (
    PASSWORD,
    Account,
    add_operator,
    api_token,
    auth_headers,
    enable_2fa,
    new_client,
    next_code,
    signup,
)
from tests.web.realtime import (
    ORIGIN,
    TIMEOUT,
    Socket,
    close_all_sockets,
    operator_socket,
    visitor_session,
    visitor_socket,
    widget_channel,
)
from web.api.widget import issue_ticket, issue_token, read_token


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client)
    await close_all_sockets()


async def token_socket(base_ws: str, token: str) -> Socket:
    ws = await connect(
        f"{base_ws}/ws/operator",
        additional_headers=auth_headers(token),
        subprotocols=["inviaro.json"],  # type: ignore[list-item]
        open_timeout=TIMEOUT,
        max_queue=None,
    )
    socket = Socket(ws)
    await socket.wait_for(type="hello")
    return socket


async def close_code(sock: Socket) -> int | None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await sock.recv()
    return sock.ws.close_code


async def refused_status(url: str, headers: dict[str, str]) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers, open_timeout=TIMEOUT):
            pass
    return int(refused.value.response.status_code)


def with_ticket(session: dict[str, Any], ticket: str) -> str:
    return session["ws_url"].split("?token=")[0] + f"?token={ticket}"


# Finding 1: API token sockets -------------------------------------------------------------


async def test_revoking_a_token_closes_its_open_socket(owner: Account, live: LiveServer) -> None:
    token = await api_token(owner)
    sock = await token_socket(live.ws_url, token)
    token_id = (await owner.get("/api/tokens")).json()["items"][0]["id"]
    assert (await owner.delete(f"/api/tokens/{token_id}")).status_code == 204
    assert await close_code(sock) == 1008
    assert await refused_status(f"{live.ws_url}/ws/operator", auth_headers(token)) == 403


# Finding 2: the workspace's 2FA requirement -----------------------------------------------


async def test_a_pending_2fa_operator_cannot_open_a_socket_by_cookie_or_token(
    owner: Account, live: LiveServer
) -> None:
    await enable_2fa(owner)
    agent = await add_operator(owner)
    token = await api_token(agent)  # made before the policy
    assert (await owner.patch("/api/workspace", json={"require_2fa": True})).status_code == 200
    cookies = "; ".join(f"{c.name}={c.value}" for c in agent.client.cookies.jar)
    url = f"{live.ws_url}/ws/operator"
    assert await refused_status(url, {"Cookie": cookies}) == 403
    assert await refused_status(url, auth_headers(token)) == 403
    async with live.client() as integration:
        response = await integration.get("/api/conversations", headers=auth_headers(token))
    assert response.status_code == 403 and response.json()["error"] == "2fa_required"
    await agent.client.aclose()


async def test_requiring_2fa_closes_the_open_sockets_of_operators_without_it(
    owner: Account, live: LiveServer
) -> None:
    await enable_2fa(owner)
    agent = await add_operator(owner)
    sockets = [
        await operator_socket(agent, live.ws_url),
        await token_socket(live.ws_url, await api_token(agent)),
    ]
    mine = await operator_socket(owner, live.ws_url)  # the owner has 2FA: stays
    assert (await owner.patch("/api/workspace", json={"require_2fa": True})).status_code == 200
    assert [await close_code(s) for s in sockets] == [1008, 1008]
    await mine.send({"type": "ping"})
    assert (await mine.wait_for(type="pong"))["type"] == "pong"
    await agent.client.aclose()


async def test_disabling_ones_own_2fa_where_it_is_required_closes_ones_sockets(
    owner: Account, live: LiveServer
) -> None:
    totp, _ = await enable_2fa(owner)
    assert (await owner.patch("/api/workspace", json={"require_2fa": True})).status_code == 200
    sock = await operator_socket(owner, live.ws_url)
    response = await owner.post(
        "/api/2fa/disable", json={"otp": next_code(totp), "password": PASSWORD}
    )
    assert response.status_code == 204, response.text
    assert await close_code(sock) == 1008


# Findings 3 and 7: deleted workspaces and channels ----------------------------------------


async def test_deleting_a_channel_closes_its_visitor_sockets_and_refuses_new_ones(
    owner: Account, live: LiveServer
) -> None:
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    sock = await visitor_socket(session["ws_url"])
    assert (await owner.delete(f"/api/channels/{widget.channel_id}")).status_code == 204
    assert await close_code(sock) == 1008
    assert await refused_status(session["ws_url"], {"Origin": ORIGIN}) == 403


async def test_a_deleted_workspaces_visitor_sockets_close_and_its_widget_refuses(
    owner: Account, live: LiveServer
) -> None:
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    sock = await visitor_socket(session["ws_url"])
    response = await owner.client.request(
        "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
    )
    assert response.status_code == 204
    assert await close_code(sock) == 1008
    assert await refused_status(session["ws_url"], {"Origin": ORIGIN}) == 403
    async with live.client() as browser:
        again = await browser.post(
            "/api/widget/sessions",
            json={"key": widget.key, "visitor_token": session["visitor_token"]},
            headers={"Origin": ORIGIN},
        )
        fresh = await browser.post(
            "/api/widget/sessions", json={"key": widget.key}, headers={"Origin": ORIGIN}
        )
    assert (again.status_code, fresh.status_code) == (404, 404)


# Finding 8: idle sessions -----------------------------------------------------------------


async def test_an_idle_sessions_socket_closes(db_url: str) -> None:
    """Pings keep a socket open, not an unattended session: past the idle timeout it closes."""
    settings = make_settings(db_url, session_idle_s=2, heartbeat_s=1)
    live, server, task = await start_server(settings)
    try:
        async with new_client(live.url) as client:
            owner = await signup(client)
            sock = await operator_socket(owner, live.ws_url)
            deadline = time.monotonic() + 30
            with contextlib.suppress(ConnectionClosed):
                while time.monotonic() < deadline:
                    await sock.send({"type": "ping"})
                    await sock.wait_for(type="pong")
            assert sock.ws.close_code == 1008
            assert (await client.get("/api/me")).status_code == 401
    finally:
        await close_all_sockets()
        server.should_exit = True
        await task


async def test_an_operators_frames_keep_their_session_alive(db_url: str) -> None:
    """Frames other than pings are the operator's activity: past the idle timeout the
    session is still alive while the socket is in use."""
    settings = make_settings(db_url, session_idle_s=2, heartbeat_s=1)
    live, server, task = await start_server(settings)
    try:
        async with new_client(live.url) as client:
            owner = await signup(client)
            sock = await operator_socket(owner, live.ws_url)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                await sock.send({"type": "typing", "conversation_id": "cv_none", "active": True})
                await sock.wait_for(type="error")  # not_found: still a frame from the operator
                await asyncio.sleep(0.2)
            assert sock.ws.close_code is None
            assert (await client.get("/api/me")).status_code == 200
    finally:
        await close_all_sockets()
        server.should_exit = True
        await task


# Finding 9: visitor tokens and connect tickets --------------------------------------------


async def test_an_expired_connect_ticket_is_refused(owner: Account, live: LiveServer) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    found = read_token(SECRET, session["visitor_token"])
    assert found is not None
    stale = issue_ticket(SECRET, found[0], issued_at=int(time.time()) - 61)
    assert await refused_status(with_ticket(session, stale), {"Origin": ORIGIN}) == 403


async def test_the_long_lived_visitor_token_opens_no_socket(
    owner: Account, live: LiveServer
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    url = with_ticket(session, session["visitor_token"])
    assert await refused_status(url, {"Origin": ORIGIN}) == 403


async def test_an_expired_visitor_token_starts_afresh(owner: Account, live: LiveServer) -> None:
    widget = await widget_channel(owner)
    first = await visitor_session(owner, widget)
    found = read_token(SECRET, first["visitor_token"])
    assert found is not None
    days = live.settings.visitor_token_days
    old = issue_token(SECRET, found[0], issued_at=int(time.time()) - days * 86400 - 60)
    again = await visitor_session(owner, widget, token=old)
    assert again["conversation_id"] != first["conversation_id"]
    assert read_token(SECRET, again["visitor_token"])[0].contact_id != found[0].contact_id  # type: ignore[index]
    still = await visitor_session(owner, widget, token=first["visitor_token"])
    assert still["conversation_id"] == first["conversation_id"]  # a live token resumes


async def test_a_token_socket_of_a_disabled_operator_closes(
    owner: Account, live: LiveServer
) -> None:
    agent = await add_operator(owner)
    sock = await token_socket(live.ws_url, await api_token(agent))
    response = await owner.patch(f"/api/operators/{agent.operator_id}", json={"disabled": True})
    assert response.status_code == 200
    assert await close_code(sock) == 1008
    await agent.client.aclose()


# The safety net: a change no event announced is found by the heartbeat sweep -------------


async def test_the_sweep_closes_sockets_whose_principal_went_away_unannounced(
    db_url: str,
) -> None:
    """As if the bus had dropped the events: the database alone says what is gone."""
    live, server, task = await start_server(make_settings(db_url, heartbeat_s=1))
    try:
        async with new_client(live.url) as client:
            owner, other = await signup(client), await signup(new_client(live.url))
            widget = await widget_channel(owner)
            session = await visitor_session(owner, widget)
            token = await api_token(owner)
            by_token = await token_socket(live.ws_url, token)
            visitor = await visitor_socket(session["ws_url"])
            other_sock = await token_socket(live.ws_url, await api_token(other))
            engine = make_engine(live.settings.database_url)
            try:
                async with engine.begin() as conn:
                    await conn.execute(
                        update(m.ApiToken)
                        .where(m.ApiToken.operator_id == owner.operator_id)
                        .values(revoked_at=utcnow())
                    )
                    channel = m.Channel.id == widget.channel_id
                    await conn.execute(update(m.Channel).where(channel).values(disabled=True))
                    await conn.execute(
                        update(m.Workspace)
                        .where(m.Workspace.id == other.workspace_id)
                        .values(deleted_at=utcnow())
                    )
            finally:
                await engine.dispose()
            closed = [close_code(s) for s in (by_token, visitor, other_sock)]
            assert await asyncio.wait_for(asyncio.gather(*closed), 30) == [1008, 1008, 1008]
            await other.client.aclose()
    finally:
        await close_all_sockets()
        server.should_exit = True
        await task


async def test_a_visitor_who_has_not_written_yet_survives_a_sweep(
    owner: Account, live: LiveServer
) -> None:
    from web.sweep import sweep

    session = await visitor_session(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    await sweep(live.app.state.services)  # type: ignore[attr-defined]  # no row yet: reserved
    await visitor.send({"type": "send", "ref": "first", "text": "Hello"})
    assert (await visitor.wait_for(type="ack", ref="first"))["message"]["text"] == "Hello"


async def test_a_visitors_first_message_makes_their_socket_close_on_erasure(
    owner: Account, live: LiveServer
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    await visitor.send({"type": "send", "ref": "first", "text": "Hello"})
    await visitor.wait_for(type="ack", ref="first")
    conv = (await owner.get(f"/api/conversations/{session['conversation_id']}")).json()
    assert (await owner.delete(f"/api/contacts/{conv['contact']['id']}")).status_code == 204
    with pytest.raises(ConnectionClosed) as closed:
        await visitor.wait_for(type="never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
