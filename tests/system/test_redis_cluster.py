"""The guarantees on a Redis Cluster: two hub processes on a real three-master cluster (three
replicas) on loopback; a master is SIGKILLed while visitors write; nothing acknowledged is
lost, and every socket on both processes hears new messages again once a replica took over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from hub.fanout import workspace_topic
from hub.redis_cluster import slot
from tests.conftest import SECRET, free_port, unavailable
from tests.helpers import Account, new_client, signup
from tests.system.conftest import Hub
from tests.system.redis_cluster import RedisClusterServers
from tests.web.realtime import (
    Socket,
    operator_socket,
    visitor_session,
    visitor_socket,
    widget_channel,
)

pytestmark = pytest.mark.slow

CONVERSATIONS = 4


@pytest.fixture
async def redis_cluster(tmp_path: Path) -> AsyncIterator[RedisClusterServers]:
    servers = RedisClusterServers(tmp_path / "redis")
    try:
        await asyncio.to_thread(servers.start)
    except (OSError, RuntimeError) as exc:
        servers.stop()
        unavailable("Redis Cluster", str(exc))
    yield servers
    servers.stop()


@pytest.fixture
async def hubs(
    pg_database: str, redis_cluster: RedisClusterServers, tmp_path: Path
) -> AsyncIterator[list[Hub]]:
    """Two hub processes on one Postgres database and the cluster."""
    made = []
    for n in range(2):
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": pg_database,
            "REDIS_URL": redis_cluster.url,
            "INVIARO_SECRET_KEY": SECRET,
            "INVIARO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PYTHONUNBUFFERED": "1",
            "INVIARO_MESSAGES_PER_10S": "100000",  # these tests send as fast as acks return
            "INVIARO_HEARTBEAT_S": "1",
        }
        made.append(Hub(port, env, tmp_path / f"hub{n}.log"))
    made[0].start()
    await made[0].wait_ready()  # the first one migrates the fresh database
    made[1].start()
    await made[1].wait_ready()
    yield made
    for hub in made:
        if hub.proc is not None:
            hub.kill()


async def _until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for ``check`` (a failure guard, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("the hubs stopped making progress")
        await asyncio.sleep(0.02)


async def _send_until_stopped(sock: Socket, acked: dict[str, str], stop: asyncio.Event) -> None:
    """Send with client ids as fast as acks come back; remember every acknowledged one."""
    n = 0
    prefix = f"{id(sock)}-"
    with contextlib.suppress(ConnectionClosed, TimeoutError, OSError):
        while not stop.is_set():
            n += 1
            ref = f"{prefix}{n}"
            await sock.send({"type": "send", "ref": ref, "text": f"k{n}", "client_id": ref})
            frame = await sock.wait_for(type="ack", ref=ref)
            acked[ref] = frame["message"]["id"]


async def _hears(sock: Socket, text: str) -> bool:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            while True:
                frame = await sock.wait_for(type="message")
                if frame["message"]["text"] == text:
                    return True
    return False


async def _stored(owner: Account, conv: str) -> list[dict[str, Any]]:
    response = await owner.get(f"/api/conversations/{conv}/messages", params={"limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_killed_master_loses_nothing_acknowledged_and_every_socket_heals(
    hubs: list[Hub], redis_cluster: RedisClusterServers, closer: list[Any]
) -> None:
    a, b = hubs
    client = new_client(a.url)
    closer.append(client)
    owner = await signup(client)
    widget = await widget_channel(owner)
    sessions = [await visitor_session(owner, widget) for _ in range(CONVERSATIONS)]
    convs = [s["conversation_id"] for s in sessions]
    operators = [await operator_socket(owner, a.ws_url), await operator_socket(owner, b.ws_url)]
    # Visitors write to process B while the operators listen on A and on B.
    visitors = [await visitor_socket(s["ws_url"].replace(a.ws_url, b.ws_url)) for s in sessions]
    await visitors[0].send({"type": "send", "ref": "hello", "text": "across"})
    assert await _hears(operators[0], "across")  # A hears B through the cluster

    acked: dict[str, str] = {}
    stop = asyncio.Event()
    senders = [asyncio.ensure_future(_send_until_stopped(v, acked, stop)) for v in visitors]
    await _until(lambda: len(acked) >= 40)
    # Kill the master that carries the workspace's topic: the operators' doorbell.
    owner_slot = slot(workspace_topic(owner.workspace_id))
    victim = redis_cluster.owner_of(owner_slot)
    redis_cluster.kill(victim)
    before_failover = len(acked)
    await asyncio.to_thread(redis_cluster.wait_healthy)
    assert redis_cluster.owner_of(owner_slot) != victim
    # The hubs kept acknowledging through the failover and after it.
    await _until(lambda: len(acked) >= before_failover + 40)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*senders), 30)

    # Nothing acknowledged is lost; each message stored once; every conversation gap-free.
    stored: dict[str, list[dict[str, Any]]] = {c: await _stored(owner, c) for c in convs}
    for items in stored.values():
        assert [m["seq"] for m in items] == list(range(1, len(items) + 1))
        assert len({m["client_id"] for m in items}) == len(items)
    assert set(acked.values()) <= {m["id"] for items in stored.values() for m in items}

    # Every socket heals: a new message from B reaches the operators on A and on B live,
    # and an operator's reply from A reaches the visitor on B.
    for n, operator in enumerate(operators):
        for attempt in range(30):
            text = f"after-{n}-{attempt}"
            await visitors[0].send({"type": "send", "ref": text, "text": text})
            await visitors[0].wait_for(type="ack", ref=text)
            if await _hears(operator, text):
                break
        else:
            pytest.fail(f"the operator on process {'AB'[n]} no longer hears new messages")
    await operators[0].send({"type": "send", "ref": "r", "conversation_id": convs[0], "text": "re"})
    assert await _hears(visitors[0], "re")

    # And whatever the bus dropped meanwhile, the operators resume with no gaps.
    for operator in operators:
        for conv in convs:
            await operator.send({"type": "resume", "conversation_id": conv, "after_seq": 0})
            await operator.wait_for(type="resumed", conversation_id=conv)
        for conv in convs:
            seen = {
                f["message"]["seq"]
                for f in operator.frames
                if f.get("type") == "message" and f["message"]["conversation_id"] == conv
            }
            total = len(await _stored(owner, conv))
            assert seen == set(range(1, total + 1))
