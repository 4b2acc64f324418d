"""RedisBus beyond the shared contract: one process to another, and surviving outages."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import msgpack
import pytest
import redis.asyncio as redis
from redis import Redis as SyncRedis

from hub.bus import BusUnavailable
from hub.fanout import Registry
from hub.model import utcnow
from hub.redis_bus import RedisBus
from tests.conftest import free_port
from tests.hub.conftest import WAIT_S, Recorder, topic

pytestmark = pytest.mark.redis


@pytest.fixture
async def admin(hub_redis_url: str) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(hub_redis_url)
    yield client
    await client.aclose()


async def test_publish_reaches_another_process(hub_redis_url: str) -> None:
    a, b = Recorder(), Recorder()
    bus_a, bus_b = RedisBus(hub_redis_url, a.on_message), RedisBus(hub_redis_url, b.on_message)
    await bus_a.start()
    await bus_b.start()
    t = topic()
    await bus_b.subscribe(t)
    await bus_a.publish(b"across", t)
    await b.until(lambda: bool(b.got))
    assert b.got == [(t, b"across")] and a.got == []
    await bus_a.close()
    await bus_b.close()


async def test_killed_subscriber_resubscribes_and_reports_outage(
    hub_redis_url: str, admin: redis.Redis
) -> None:
    rec = Recorder()
    name = f"inviaro-test-{uuid.uuid4().hex[:12]}"
    bus = RedisBus(hub_redis_url, rec.on_message, rec.on_reconnect, name=name)
    await bus.start()
    t = topic()
    await bus.subscribe(t)
    before = utcnow()
    clients = await admin.client_list(_type="pubsub")
    [ours] = [c for c in clients if c.get("name") == name]
    # CLIENT KILL TYPE pubsub, narrowed to our connection so parallel runs are untouched.
    await admin.execute_command("CLIENT", "KILL", "ID", ours["id"], "TYPE", "pubsub")  # type: ignore[no-untyped-call]
    await rec.until(lambda: bool(rec.reconnects))
    assert isinstance(rec.reconnects[0], datetime) and rec.reconnects[0] >= before
    await bus.publish(b"after", t)
    await rec.until(lambda: bool(rec.got))
    assert rec.got == [(t, b"after")]
    await bus.close()


async def test_unreachable_redis_raises_bus_unavailable() -> None:
    port = free_port()  # nothing listens here
    bus = RedisBus(f"redis://127.0.0.1:{port}/0", Recorder().on_message, connect_timeout=1)
    await bus.start()
    await asyncio.wait_for(bus.subscribe(topic()), WAIT_S)  # never blocks on a dead Redis
    with pytest.raises(BusUnavailable):
        await bus.publish(b"x", topic())
    assert await bus.ping() is False
    await bus.close()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
async def test_redis_restarted_empty_resubscribes() -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = await _redis_server(port)
    rec = Recorder()
    bus = RedisBus(url, rec.on_message, rec.on_reconnect)
    try:
        await bus.start()
        t = topic()
        await bus.subscribe(t)
        server.terminate()
        await asyncio.to_thread(server.wait, WAIT_S)
        with pytest.raises(BusUnavailable):
            await bus.publish(b"lost", t)
        server = await _redis_server(port)  # a new, empty Redis on the same address
        await rec.until(lambda: bool(rec.reconnects))
        await bus.publish(b"back", t)
        await rec.until(lambda: bool(rec.got))
        assert rec.got == [(t, b"back")]
    finally:
        await bus.close()
        server.terminate()
        await asyncio.to_thread(server.wait, WAIT_S)


async def _redis_server(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(200):
            try:
                await client.ping()
                return server
            except redis.ConnectionError:
                await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    server.kill()
    raise RuntimeError("redis-server did not start")


async def test_a_burst_read_after_a_stall_reaches_a_socket_without_overflowing_it(
    hub_redis_url: str,
) -> None:
    registry: Registry | None = None

    def on_message(t: str, payload: bytes) -> None:
        assert registry is not None
        registry.deliver(t, payload)

    bus = RedisBus(hub_redis_url, on_message)
    registry = Registry(bus, queue_bound=64)
    await bus.start()
    sent: list[int] = []
    closed: list[int] = []

    async def send(data: str | bytes) -> None:
        sent.append(msgpack.unpackb(data))

    async def close(code: int) -> None:
        closed.append(code)

    conn = registry.connect("msgpack", send, close)
    t = topic()
    await registry.join(conn, t)
    # The event loop stalls (as a SIGSTOPped process does) while 1,000 messages arrive.
    publisher = SyncRedis.from_url(hub_redis_url)
    pipe = publisher.pipeline(transaction=False)
    for n in range(1000):
        pipe.publish(t, msgpack.packb(n))
    pipe.execute()
    publisher.close()
    time.sleep(0.3)  # the stall itself: nothing runs meanwhile
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while len(sent) < 1000 and not closed and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert closed == [] and sent == list(range(1000))
    await registry.disconnect(conn)
    await bus.close()
