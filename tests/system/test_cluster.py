"""Guarantees across processes: fan-out through Redis, and no acknowledged message lost when
a hub is SIGKILLed, when Redis restarts empty, or when the pub/sub connection is cut."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as redis
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from tests.helpers import Account, new_client, signup
from tests.system.conftest import Cluster
from tests.web.realtime import (
    Socket,
    operator_socket,
    started_visitor,
    visitor_session,
    visitor_socket,
    widget_channel,
)

pytestmark = pytest.mark.slow


@pytest.fixture
async def owner_of(closer: list[Any]):  # type: ignore[no-untyped-def]
    async def make(url: str) -> Account:
        client = new_client(url)
        closer.append(client)
        return await signup(client)

    return make


async def _until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for ``check`` (a failure guard, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("the cluster stopped making progress")
        await asyncio.sleep(0.02)


async def _operator_on_a_visitor_on_b(
    cluster: Cluster, owner_of: Callable[[str], Any]
) -> tuple[Account, dict[str, Any], Socket, Socket]:
    """A workspace whose operator listens on process A while its visitor writes to B."""
    a, b = cluster.hubs
    owner = await owner_of(a.url)
    session = await visitor_session(owner, await widget_channel(owner))
    operator = await operator_socket(owner, a.ws_url)
    visitor = await visitor_socket(session["ws_url"].replace(a.ws_url, b.ws_url))
    return owner, session, operator, visitor


async def _stored(owner: Account, conv: str) -> list[dict[str, Any]]:
    response = await owner.get(f"/api/conversations/{conv}/messages", params={"limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _assert_gap_free(items: list[dict[str, Any]]) -> None:
    assert [m["seq"] for m in items] == list(range(1, len(items) + 1))


async def test_two_processes_behave_as_one_hub(  # type: ignore[no-untyped-def]
    cluster: Cluster, owner_of, closer: list[Any]
) -> None:
    owner, session, operator, visitor = await _operator_on_a_visitor_on_b(cluster, owner_of)
    conv = session["conversation_id"]
    for n in range(20):
        await visitor.send({"type": "send", "ref": n, "text": f"m{n}"})
    received = await operator.messages(20)
    assert [m["seq"] for m in received] == list(range(1, 21))  # in order
    await operator.send({"type": "send", "ref": "r", "conversation_id": conv, "text": "reply"})
    while True:
        frame = await visitor.wait_for(type="message")
        if frame["message"]["text"] == "reply":
            break
    items = await _stored(owner, conv)
    _assert_gap_free(items)
    assert len(items) == 21 and len({m["id"] for m in items}) == 21


async def _send_until_killed(sock: Socket, acked: dict[str, str], stop: asyncio.Event) -> None:
    """Send with client ids as fast as acks come back; remember every acknowledged one."""
    n = 0
    with contextlib.suppress(ConnectionClosed, TimeoutError, OSError):
        while not stop.is_set():
            n += 1
            await sock.send({"type": "send", "ref": n, "text": f"k{n}", "client_id": f"c{n}"})
            while True:
                frame = await sock.recv()
                if frame.get("type") == "ack":
                    acked[f"c{frame['ref']}"] = frame["message"]["id"]
                    break


async def test_sigkilled_hub_loses_no_acknowledged_message(  # type: ignore[no-untyped-def]
    cluster: Cluster, owner_of, closer: list[Any]
) -> None:
    a, b = cluster.hubs
    owner = await owner_of(a.url)
    widget = await widget_channel(owner)
    sessions = [await visitor_session(owner, widget) for _ in range(3)]
    acked: dict[str, str] = {}
    stop = asyncio.Event()
    senders = []
    for s in sessions:
        sock = await visitor_socket(s["ws_url"].replace(a.ws_url, b.ws_url))
        senders.append(asyncio.ensure_future(_send_until_killed(sock, acked, stop)))
    await _until(lambda: len(acked) >= 60)
    b.kill(signal.SIGKILL)
    await asyncio.wait_for(asyncio.gather(*senders), 30)
    b.start()
    await b.wait_ready()
    for s in sessions:
        items = await _stored(owner, s["conversation_id"])
        _assert_gap_free(items)
        assert len({m["client_id"] for m in items}) == len(items)  # each stored once
    stored_ids = set()
    for s in sessions:
        stored_ids |= {m["id"] for m in await _stored(owner, s["conversation_id"])}
    assert set(acked.values()) <= stored_ids


async def _await_message(sock: Socket, text: str) -> None:
    while True:
        frame = await sock.wait_for(type="message")
        if frame["message"]["text"] == text:
            return


async def test_redis_restarting_empty_loses_nothing_and_fan_out_returns(  # type: ignore[no-untyped-def]
    cluster: Cluster, owner_of, closer: list[Any]
) -> None:
    a, b = cluster.hubs
    owner, session, operator, visitor = await _operator_on_a_visitor_on_b(cluster, owner_of)
    conv = session["conversation_id"]
    acked: dict[str, str] = {}
    stop = asyncio.Event()
    sender = asyncio.ensure_future(_send_until_killed(visitor, acked, stop))
    await _until(lambda: len(acked) >= 20)
    cluster.redis.kill()
    await asyncio.sleep(0.5)
    cluster.redis.start()
    await cluster.redis.wait_ready()
    await _until(lambda: len(acked) >= 60)  # the hubs keep accepting through and after the outage
    stop.set()
    await asyncio.wait_for(sender, 30)
    items = await _stored(owner, conv)
    _assert_gap_free(items)
    assert set(acked.values()) <= {m["id"] for m in items}
    # Fan-out is back: a fresh message from process B reaches the operator on process A.
    fresh = await visitor_socket(session["ws_url"].replace(a.ws_url, b.ws_url))
    for attempt in range(50):
        await fresh.send({"type": "send", "ref": f"f{attempt}", "text": f"after-{attempt}"})
        await fresh.wait_for(type="ack", ref=f"f{attempt}")
        try:
            await asyncio.wait_for(_await_message(operator, f"after-{attempt}"), 1.0)
            break
        except TimeoutError:
            continue
    else:
        pytest.fail("fan-out did not come back after Redis restarted")
    # And whatever the bus dropped meanwhile, the operator heals with resume.
    await operator.send({"type": "resume", "conversation_id": conv, "after_seq": 0})
    await operator.wait_for(type="resumed")
    seen = {f["message"]["seq"] for f in operator.frames if f.get("type") == "message"}
    total = len(await _stored(owner, conv))
    assert seen == set(range(1, total + 1))


async def test_killed_pubsub_connection_is_resubscribed_and_nothing_is_missing(  # type: ignore[no-untyped-def]
    cluster: Cluster, owner_of, closer: list[Any]
) -> None:
    owner, session, operator, visitor = await _operator_on_a_visitor_on_b(cluster, owner_of)
    conv = session["conversation_id"]
    acked: dict[str, str] = {}
    stop = asyncio.Event()
    sender = asyncio.ensure_future(_send_until_killed(visitor, acked, stop))
    await _until(lambda: len(acked) >= 20)
    admin = redis.from_url(cluster.redis.url)
    killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    await admin.aclose()
    assert killed >= 2  # one subscriber connection per hub process
    await _until(lambda: len(acked) >= 60)
    stop.set()
    await asyncio.wait_for(sender, 30)
    total = len(await _stored(owner, conv))
    # Every message reaches the operator live or by the hub's re-delivery after it
    # resubscribed; no resume is needed.
    seen: set[int] = set()

    async def collect() -> None:
        while len(seen) < total:
            frame = await operator.wait_for(type="message")
            seen.add(frame["message"]["seq"])

    seen |= {f["message"]["seq"] for f in operator.frames if f.get("type") == "message"}
    await asyncio.wait_for(collect(), 30)
    assert seen == set(range(1, total + 1))


async def test_sigterm_closes_sockets_with_1012_and_exits_cleanly(  # type: ignore[no-untyped-def]
    cluster: Cluster, owner_of, closer: list[Any]
) -> None:
    a, b = cluster.hubs
    owner = await owner_of(a.url)
    operator = await operator_socket(owner, b.ws_url)
    code = b.kill(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert code in (0, -signal.SIGTERM)
    assert "Traceback" not in b.log.read_text()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await operator.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    with pytest.raises((OSError, InvalidStatus, InvalidURI)):
        await operator_socket(owner, b.ws_url)


async def _closed_with(sock: Socket) -> int | None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await sock.recv()
    return sock.ws.close_code


async def test_logout_on_one_process_closes_the_sockets_on_another(  # type: ignore[no-untyped-def]
    cluster: Cluster, owner_of, closer: list[Any]
) -> None:
    a, b = cluster.hubs
    owner = await owner_of(a.url)
    operator = await operator_socket(owner, b.ws_url)
    assert (await owner.post("/api/logout")).status_code == 204
    assert await asyncio.wait_for(_closed_with(operator), 15) == 1008


async def test_erasure_on_one_process_closes_the_visitor_socket_on_another(  # type: ignore[no-untyped-def]
    cluster: Cluster, owner_of, closer: list[Any]
) -> None:
    a, b = cluster.hubs
    owner = await owner_of(a.url)
    session = await started_visitor(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"].replace(a.ws_url, b.ws_url))
    conv = await owner.get(f"/api/conversations/{session['conversation_id']}")
    contact = conv.json()["contact"]["id"]
    assert (await owner.delete(f"/api/contacts/{contact}")).status_code == 204
    assert await asyncio.wait_for(_closed_with(visitor), 15) == 1008
