"""Fixtures for the hub: a recorder for bus handlers, and every Bus implementation (the
Redis ones on the shared Redis and on a private three-master Redis Cluster)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime

import pytest
import redis

from hub.bus import Bus, MemoryBus
from hub.redis_bus import RedisBus
from hub.redis_cluster_bus import ClusterBus
from tests.conftest import REDIS_URL, unavailable
from tests.system.redis_cluster import RedisClusterServers

WAIT_S = 20.0  # a failure guard only, never a timing assertion


class Recorder:
    """A bus handler that remembers what arrived and lets a test wait for it."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.reconnects: list[datetime] = []
        self._changed = asyncio.Event()

    def on_message(self, topic: str, payload: bytes) -> None:
        self.got.append((topic, payload))
        self._changed.set()

    def on_reconnect(self, since: datetime) -> None:
        self.reconnects.append(since)
        self._changed.set()

    async def until(self, check: Callable[[], bool]) -> None:
        async def loop() -> None:
            while not check():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), WAIT_S)

    def payloads(self, topic: str) -> list[bytes]:
        return [p for t, p in self.got if t == topic]


def topic() -> str:
    return f"test:{uuid.uuid4().hex}"


BusFactory = Callable[[Recorder], Awaitable[Bus]]


@pytest.fixture(scope="session")
def hub_redis_url() -> str:
    """REDIS_URL after a ping (sync, so parametrized fixtures can ask for it lazily)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        unavailable("Redis", type(exc).__name__)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="session")
def hub_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``redis+cluster://`` URL of a private cluster, started once for the session."""
    servers = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    try:
        servers.start()
    except (OSError, RuntimeError) as exc:
        servers.stop()
        unavailable("Redis Cluster", str(exc))
    yield servers.url
    servers.stop()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Builds started buses of one kind; all are closed after the test."""
    made: list[Bus] = []
    kind = request.param
    url = request.getfixturevalue(f"hub_{kind}_url") if kind != "memory" else ""

    async def factory(rec: Recorder) -> Bus:
        bus: Bus
        if kind == "memory":
            bus = MemoryBus(rec.on_message, rec.on_reconnect)
        elif kind == "cluster":
            bus = ClusterBus(url, rec.on_message, rec.on_reconnect)
        else:
            bus = RedisBus(url, rec.on_message, rec.on_reconnect)
        await bus.start()
        made.append(bus)
        return bus

    yield factory
    for bus in made:
        await bus.close()
