"""The hub when its database fails: a frozen process holding locks, races between
processes, Postgres refusing or stalled, Redis gone, a client gone mid-request. Each test
is the fault; none touches the machine's Postgres server (a proxy stands in front of it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import SECRET, LiveServer, free_port, make_settings, start_server
from tests.helpers import Account, api_token, auth_headers, new_client, signup
from tests.system.conftest import Cluster, Hub, RedisServer
from tests.system.pgproxy import PgProxy
from tests.web.realtime import (
    Socket,
    started_visitor,
    visitor_session,
    visitor_socket,
    widget_channel,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

# A frozen process holding a conversation's row lock: it takes the lock, says so, waits.
LOCKER = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    await conn.execute("BEGIN")
    await conn.execute("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", sys.argv[2])
    print("locked", flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def serving(database_url: str, **overrides: Any) -> AsyncIterator[LiveServer]:
    """A hub in this process (the other processes of a test are subprocesses)."""
    live, server, task = await start_server(make_settings(database_url, **overrides))
    try:
        yield live
    finally:
        server.should_exit = True
        await task


async def _owner(url: str, closer: list[Any]) -> Account:
    client = new_client(url)
    closer.append(client)
    return await signup(client)


async def _feed(owner: Account) -> dict[str, Any]:
    response = await owner.post("/api/channels", {"kind": "custom", "name": "Feed"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _ingest_body(*external_ids: str) -> dict[str, Any]:
    return {
        "messages": [
            {"external_id": e, "contact": {"external_id": f"c-{e}"}, "text": "hi"}
            for e in external_ids
        ]
    }


async def _closed_with(socket: Socket) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await socket.recv()
    assert closed.value.rcvd is not None, "closed without a close frame (1006)"
    return closed.value.rcvd.code


# R3 ----------------------------------------------------------------------------------------


async def test_a_frozen_process_holding_a_conversation_lock_holds_up_only_that_conversation(
    pg_database: str, closer: list[Any]
) -> None:
    async with serving(pg_database) as live:
        owner = await _owner(live.url, closer)
        widget = await widget_channel(owner)
        held_session = await started_visitor(owner, widget)  # seq 1: "Hello"
        free_session = await started_visitor(owner, widget)
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, _dsn(pg_database), held_session["conversation_id"]],
            stdout=subprocess.PIPE,
        )
        try:
            assert locker.stdout is not None
            assert await asyncio.to_thread(locker.stdout.readline) == b"locked\n"
            locker.send_signal(signal.SIGSTOP)
            stuck = await visitor_socket(held_session["ws_url"])
            other = await visitor_socket(free_session["ws_url"])
            await stuck.send({"type": "send", "ref": "s", "text": "into the locked one"})
            await other.send({"type": "send", "ref": "o1", "text": "elsewhere"})
            assert (await other.wait_for(type="ack", ref="o1"))["message"]["seq"] == 2
            # The locked conversation's sender is told to come back later, not left hanging.
            assert await _closed_with(stuck) == 1013
            # Later messages are not held up behind it while it stays locked.
            again = await visitor_socket(held_session["ws_url"])
            await again.send({"type": "send", "ref": "s2", "text": "still locked?"})
            await other.send({"type": "send", "ref": "o2", "text": "and on"})
            assert (await other.wait_for(type="ack", ref="o2"))["message"]["seq"] == 3
            assert await _closed_with(again) == 1013
        finally:
            locker.send_signal(signal.SIGCONT)
            locker.kill()
            locker.wait(10)
            locker.stdout.close()
        after = await visitor_socket(held_session["ws_url"])
        await after.send({"type": "send", "ref": "s3", "text": "free again"})
        assert (await after.wait_for(type="ack", ref="s3"))["message"]["seq"] == 2


# R4 ----------------------------------------------------------------------------------------


async def test_the_same_client_id_on_two_processes_at_once_is_one_message(
    cluster: Cluster, closer: list[Any]
) -> None:
    a, b = cluster.hubs
    owner = await _owner(a.url, closer)
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    conv = session["conversation_id"]
    sockets = [
        await visitor_socket(session["ws_url"]),
        await visitor_socket(session["ws_url"].replace(a.ws_url, b.ws_url)),
    ]
    for n in range(15):  # one visitor's resend on both processes at once;
        # the first one also creates the visitor's contact and conversation on both
        frame = {"type": "send", "ref": f"w{n}", "text": "hello", "client_id": f"w{n}"}
        await asyncio.gather(*(s.send(frame) for s in sockets))
        acks = [await s.wait_for(type="ack", ref=f"w{n}") for s in sockets]
        assert len({ack["message"]["id"] for ack in acks}) == 1
    token = await api_token(owner)
    clients = [httpx.AsyncClient(base_url=h.url, headers=auth_headers(token)) for h in (a, b)]
    closer.extend(clients)
    for n in range(15):  # HTTP on both processes at once
        answers = await asyncio.gather(
            *(
                c.post(
                    f"/api/conversations/{conv}/messages", json={"text": "hi", "client_id": f"h{n}"}
                )
                for c in clients
            )
        )
        assert sorted(r.status_code for r in answers) == [200, 201], [r.text for r in answers]
        assert len({r.json()["id"] for r in answers}) == 1


# R6 ----------------------------------------------------------------------------------------


@pytest.fixture
async def proxy(pg_database: str) -> AsyncIterator[PgProxy]:
    proxy = PgProxy(pg_database)
    await proxy.start()
    yield proxy
    proxy.thaw()
    await proxy.stop()


@pytest.fixture
async def hub_behind_proxy(
    proxy: PgProxy, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Hub]:
    """One ``inviaro serve`` process whose database is reached through the proxy."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": proxy.url,
        "REDIS_URL": redis_server.url,
        "INVIARO_SECRET_KEY": SECRET,
        "INVIARO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "INVIARO_SHUTDOWN_TIMEOUT_S": "2",
        "PYTHONUNBUFFERED": "1",
    }
    hub = Hub(port, env, tmp_path / "hub.log")
    hub.start()
    await hub.wait_ready()
    yield hub
    if hub.proc is not None:
        hub.kill()


async def test_while_the_database_refuses_sockets_close_1013_handshakes_answer_503_and_the_log_says_it_once(  # noqa: E501
    proxy: PgProxy, hub_behind_proxy: Hub, closer: list[Any]
) -> None:
    hub = hub_behind_proxy
    owner = await _owner(hub.url, closer)
    session = await visitor_session(owner, await widget_channel(owner))
    sender = await visitor_socket(session["ws_url"])
    await sender.send({"type": "send", "ref": "1", "text": "before"})
    await sender.wait_for(type="ack", ref="1")

    await proxy.stop()  # Postgres is gone: connections cut, new ones refused
    await sender.send({"type": "send", "ref": "2", "text": "during"})
    assert await _closed_with(sender) == 1013  # reconnect and resume
    for _ in range(20):
        with pytest.raises(InvalidStatus) as refused:
            await visitor_socket(session["ws_url"])
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"].isdigit()
    answer = await owner.get("/api/conversations")
    assert answer.status_code == 503 and answer.json()["error"] == "unavailable"
    assert answer.headers["Retry-After"].isdigit()
    log = hub.log.read_text()
    assert log.count("the database is unavailable") == 1, log
    assert "Traceback" not in log, log

    await proxy.start()  # back: the next socket is served, and the log says so
    after = await visitor_socket(session["ws_url"])
    await after.send({"type": "send", "ref": "3", "text": "after", "client_id": "v-3"})
    assert (await after.wait_for(type="ack", ref="3"))["message"]["text"] == "after"
    assert "the database is available again" in hub.log.read_text()


# R8 ----------------------------------------------------------------------------------------


async def test_a_client_gone_in_the_middle_of_an_ingest_request_is_quiet_and_stores_nothing(
    pg_database: str, closer: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(pg_database) as live:
        owner = await _owner(live.url, closer)
        feed = await _feed(owner)
        caplog.set_level(logging.INFO)
        for _ in range(3):
            _, writer = await asyncio.open_connection("127.0.0.1", live.settings.port)
            writer.write(
                f"POST /api/ingest/{feed['id']} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {feed['ingest_token']}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                '{"messages": [{"external_id": "e1",'.encode()
            )
            await writer.drain()
            writer.transport.abort()  # gone before the body is complete
        # The server has noticed (it answers the next request) and logged nothing loud.
        assert (await owner.get("/api/conversations")).json()["items"] == []
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]


# R9 ----------------------------------------------------------------------------------------


async def test_readyz_is_200_degraded_while_redis_is_down_and_messages_are_still_acked(
    pg_database: str, redis_server: RedisServer, closer: list[Any]
) -> None:
    async with serving(pg_database, redis_url=redis_server.url) as live:
        owner = await _owner(live.url, closer)
        feed = await _feed(owner)
        assert (await owner.get("/readyz")).json()["status"] == "ready"
        redis_server.kill()
        ready = await owner.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"] == "unreachable"
        stored = await owner.client.post(
            f"/api/ingest/{feed['id']}",
            json=_ingest_body("e1"),
            headers=auth_headers(feed["ingest_token"]),
        )
        assert stored.status_code == 202, stored.text


async def test_readyz_is_503_while_the_messages_table_is_locked(
    pg_database: str, closer: list[Any]
) -> None:
    async with serving(pg_database) as live:
        owner = await _owner(live.url, closer)
        assert (await owner.get("/readyz")).status_code == 200
        locker = await asyncpg.connect(_dsn(pg_database))
        try:
            await locker.execute("BEGIN; LOCK TABLE messages IN EXCLUSIVE MODE")  # no inserts
            ready = await owner.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "unavailable"
        finally:
            await locker.close()
        assert (await owner.get("/readyz")).status_code == 200


# R11 ---------------------------------------------------------------------------------------


async def test_sigterm_with_the_database_stalled_exits_within_the_shutdown_timeout(
    proxy: PgProxy, hub_behind_proxy: Hub, closer: list[Any]
) -> None:
    hub = hub_behind_proxy
    owner = await _owner(hub.url, closer)
    session = await visitor_session(owner, await widget_channel(owner))
    sender = await visitor_socket(session["ws_url"])
    proxy.freeze()  # every statement now waits forever
    await sender.send({"type": "send", "ref": "1", "text": "never acknowledged"})
    assert hub.proc is not None
    hub.proc.send_signal(signal.SIGTERM)
    try:
        # INVIARO_SHUTDOWN_TIMEOUT_S is 2: in flight, then the writer's last commit.
        await asyncio.to_thread(hub.proc.wait, 30)
    except subprocess.TimeoutExpired:
        pytest.fail("the process still waits for the stalled database")
    hub.proc = None
    assert not any(f.get("type") == "ack" for f in sender.frames)


# R12 ---------------------------------------------------------------------------------------


async def test_ingest_past_the_admission_bound_is_503_with_retry_after(
    pg_database: str, closer: list[Any]
) -> None:
    async with serving(pg_database, writer_max_backlog=5) as live:
        owner = await _owner(live.url, closer)
        feed = await _feed(owner)
        headers = auth_headers(feed["ingest_token"])
        url = f"/api/ingest/{feed['id']}"
        locker = await asyncpg.connect(_dsn(pg_database))
        try:
            await locker.execute("BEGIN; LOCK TABLE messages IN EXCLUSIVE MODE")  # a stall
            in_flight = asyncio.create_task(
                owner.client.post(url, json=_ingest_body("a"), headers=headers)
            )
            await _until_backlog(owner, 0, locker)  # the first commit waits on the lock
            queued = asyncio.create_task(
                owner.client.post(url, json=_ingest_body(*"bcdef"), headers=headers)
            )
            await _until_backlog(owner, 5, locker)
            refused = await owner.client.post(url, json=_ingest_body("g"), headers=headers)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "unavailable"
            assert refused.headers["Retry-After"].isdigit()
            assert not in_flight.done() and not queued.done()
        finally:
            await locker.close()
        await asyncio.gather(in_flight, queued)


async def _until_backlog(owner: Account, count: int, locker: asyncpg.Connection) -> None:
    """Wait until a commit waits on a lock and ``count`` messages queue behind it."""
    for _ in range(500):
        waiting = await locker.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        )
        metrics = (await owner.get("/metrics")).text
        if waiting and f"inviaro_writer_backlog {float(count)}" in metrics:
            return
        await asyncio.sleep(0.02)
    pytest.fail("the writer never queued the messages")
