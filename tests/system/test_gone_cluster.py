"""When a principal goes away on process A, its sockets on process B close at once.

Two ``inviaro serve`` processes on one Postgres and one Redis, whose heartbeat (and with it
the safety-net sweep) is a minute apart: only the bus's control event can close a socket
on B within the two seconds these tests wait, whatever opened it (cookie, API token,
visitor ticket).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import SECRET, _create_pg_database, _drop_pg_database, free_port
from tests.helpers import PASSWORD, Account, add_operator, api_token, new_client, signup
from tests.system.conftest import Cluster, Hub, RedisServer
from tests.web.realtime import (
    TIMEOUT,
    Socket,
    operator_socket,
    visitor_session,
    visitor_socket,
    widget_channel,
)

pytestmark = pytest.mark.slow

WITHIN_S = 2.0  # the contract: every process applies the event within a couple of seconds


@pytest.fixture(scope="module")
async def slow_sweep_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """Two hub processes whose heartbeat sweep runs once a minute, shared by this module's
    tests (each signs up its own workspace)."""
    tmp_path = tmp_path_factory.mktemp("gone")
    redis_server = RedisServer(free_port(), tmp_path)
    redis_server.start()
    await redis_server.wait_ready()
    pg_database = await _create_pg_database()
    cluster = Cluster(pg_database, redis_server)
    for n in range(2):
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": pg_database,
            "REDIS_URL": redis_server.url,
            "INVIARO_SECRET_KEY": SECRET,
            "INVIARO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PYTHONUNBUFFERED": "1",
            "INVIARO_HEARTBEAT_S": "60",
        }
        cluster.hubs.append(Hub(port, env, tmp_path / f"hub{n}.log"))
    try:
        for hub in cluster.hubs:  # one after the other: the first migrates the database
            hub.start()
            await hub.wait_ready()
        yield cluster
    finally:
        for hub in cluster.hubs:
            if hub.proc is not None:
                hub.kill()
        redis_server.kill()
        await _drop_pg_database(pg_database)


@pytest.fixture
async def owner(slow_sweep_cluster: Cluster, closer: list[Any]) -> Account:
    """An owner signed in on process A."""
    client = new_client(slow_sweep_cluster.hubs[0].url)
    closer.append(client)
    return await signup(client)


async def token_socket(base_ws: str, token: str) -> Socket:
    ws = await connect(
        f"{base_ws}/ws/operator",
        additional_headers={"Authorization": f"Bearer {token}"},
        subprotocols=["inviaro.json"],  # type: ignore[list-item]
        open_timeout=TIMEOUT,
        max_queue=None,
    )
    socket = Socket(ws)
    await socket.wait_for(type="hello")
    return socket


async def close_code(sock: Socket) -> int | None:
    """Read until the server closes the socket; its close code."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await sock.recv()
    return sock.ws.close_code


async def closed_at_once(*sockets: Socket) -> list[int | None]:
    return list(await asyncio.wait_for(asyncio.gather(*map(close_code, sockets)), WITHIN_S))


def b_of(cluster: Cluster) -> str:
    return cluster.hubs[1].ws_url


async def test_revoking_a_token_on_a_closes_its_socket_on_b(
    slow_sweep_cluster: Cluster, owner: Account
) -> None:
    token = await api_token(owner)
    listed = (await owner.get("/api/tokens")).json()["items"]
    sock = await token_socket(b_of(slow_sweep_cluster), token)
    assert (await owner.delete(f"/api/tokens/{listed[0]['id']}")).status_code == 204
    assert await closed_at_once(sock) == [1008]


async def test_disabling_an_operator_on_a_closes_their_token_and_cookie_sockets_on_b(
    slow_sweep_cluster: Cluster, owner: Account, closer: list[Any]
) -> None:
    agent = await add_operator(owner)
    closer.append(agent.client)
    token = await api_token(agent)
    by_token = await token_socket(b_of(slow_sweep_cluster), token)
    by_cookie = await operator_socket(agent, b_of(slow_sweep_cluster))
    response = await owner.patch(f"/api/operators/{agent.operator_id}", json={"disabled": True})
    assert response.status_code == 200, response.text
    assert await closed_at_once(by_token, by_cookie) == [1008, 1008]


async def test_a_password_change_on_a_closes_the_token_socket_on_b_and_revokes_the_token(
    slow_sweep_cluster: Cluster, owner: Account
) -> None:
    token = await api_token(owner)
    sock = await token_socket(b_of(slow_sweep_cluster), token)
    response = await owner.post(
        "/api/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
    )
    assert response.status_code == 200, response.text
    assert await closed_at_once(sock) == [1008]
    async with new_client(slow_sweep_cluster.hubs[1].url) as other:
        me = await other.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


async def test_deleting_the_workspace_on_a_closes_every_socket_of_it_on_b(
    slow_sweep_cluster: Cluster, owner: Account
) -> None:
    b = b_of(slow_sweep_cluster)
    session = await visitor_session(owner, await widget_channel(owner))
    a_ws = slow_sweep_cluster.hubs[0].ws_url
    sockets = [
        await token_socket(b, await api_token(owner)),
        await operator_socket(owner, b),
        await visitor_socket(session["ws_url"].replace(a_ws, b)),
    ]
    response = await owner.client.request(
        "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
    )
    assert response.status_code == 204, response.text
    assert await closed_at_once(*sockets) == [1008, 1008, 1008]


async def test_logout_on_a_closes_the_cookie_socket_on_b(
    slow_sweep_cluster: Cluster, owner: Account
) -> None:
    sock = await operator_socket(owner, b_of(slow_sweep_cluster))
    assert (await owner.post("/api/logout")).status_code == 204
    assert await closed_at_once(sock) == [1008]


async def test_requiring_2fa_on_a_closes_the_sockets_of_operators_without_it_on_b(
    slow_sweep_cluster: Cluster, owner: Account, closer: list[Any]
) -> None:
    agent = await add_operator(owner)
    closer.append(agent.client)
    b = b_of(slow_sweep_cluster)
    sockets = [await operator_socket(agent, b), await token_socket(b, await api_token(agent))]
    response = await owner.patch("/api/workspace", json={"require_2fa": True})
    assert response.status_code == 200, response.text
    assert await closed_at_once(*sockets) == [1008, 1008]


async def test_deleting_a_channel_on_a_closes_its_visitor_sockets_on_b(
    slow_sweep_cluster: Cluster, owner: Account
) -> None:
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    a_ws, b = slow_sweep_cluster.hubs[0].ws_url, b_of(slow_sweep_cluster)
    sock = await visitor_socket(session["ws_url"].replace(a_ws, b))
    assert (await owner.delete(f"/api/channels/{widget.channel_id}")).status_code == 204
    assert await closed_at_once(sock) == [1008]
