"""The Presence contract over MemoryPresence and RedisPresence, on an injected clock."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from hub.presence import MemoryPresence, Presence, RedisPresence

TTL = 20.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


Factory = Callable[[], Presence]


@pytest.fixture
async def prefix(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """This test's Redis key prefix; whatever it left under it is deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    if "hub_redis_url" in request.fixturenames:
        client = redis.asyncio.Redis.from_url(request.getfixturevalue("hub_redis_url"))
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def processes(
    hub_redis_url: str, prefix: str
) -> AsyncIterator[tuple[Clock, Callable[[], RedisPresence]]]:
    """A clock and a factory of Redis presences sharing it and this test's keys: hub
    processes, each closed afterwards."""
    clock = Clock()
    made: list[RedisPresence] = []

    def make() -> RedisPresence:
        made.append(RedisPresence(hub_redis_url, TTL, clock, prefix=prefix))
        return made[-1]

    yield clock, make
    for p in made:
        await p.close()


@pytest.fixture
async def client(hub_redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(hub_redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def presences(
    request: pytest.FixtureRequest, prefix: str
) -> AsyncIterator[tuple[Clock, Factory]]:
    """A clock and a factory of presence instances that share state (as processes would)."""
    clock = Clock()
    made: list[RedisPresence] = []
    shared = MemoryPresence(TTL, clock)

    def factory() -> Presence:
        if request.param == "memory":
            return shared
        url = request.getfixturevalue(f"hub_{request.param}_url")
        made.append(RedisPresence(url, TTL, clock, prefix=prefix))
        return made[-1]

    yield clock, factory
    for p in made:
        await p.close()


async def test_first_and_last_connection_change_state(presences: tuple[Clock, Factory]) -> None:
    _, make = presences
    p = make()
    assert await p.online("w", "op1", "c1") is True
    assert await p.online("w", "op1", "c2") is False
    assert await p.who("w") == {"op1"}
    assert await p.offline("w", "op1", "c1") is False
    assert await p.offline("w", "op1", "c2") is True
    assert await p.who("w") == set()


async def test_unknown_offline_changes_nothing(presences: tuple[Clock, Factory]) -> None:
    _, make = presences
    assert await make().offline("w", "nobody", "c") is False


async def test_entries_expire_without_refresh(presences: tuple[Clock, Factory]) -> None:
    clock, make = presences
    p = make()
    await p.online("w", "op1", "c1")
    clock.now += TTL + 1
    assert await p.who("w") == set()


async def test_refresh_keeps_entries_alive(presences: tuple[Clock, Factory]) -> None:
    clock, make = presences
    p = make()
    await p.online("w", "op1", "c1")
    for _ in range(5):
        clock.now += TTL / 2
        assert await p.refresh() == []
    assert await p.who("w") == {"op1"}


async def test_killed_process_entries_expire_and_are_reported_once(
    processes: tuple[Clock, Callable[[], RedisPresence]],
) -> None:
    clock, make = processes
    dead, alive = make(), make()
    await dead.online("w", "op1", "c1")  # this process will never refresh again
    await alive.online("w", "op2", "c2")
    clock.now += TTL + 1
    assert await alive.refresh() == [("w", "op1")]
    assert await alive.refresh() == []
    assert await alive.who("w") == {"op2"}


async def test_a_burst_of_connecting_sockets_waits_for_redis_instead_of_failing(
    processes: tuple[Clock, Callable[[], RedisPresence]],
) -> None:
    presence = processes[1]()
    await asyncio.gather(*(presence.online("w", f"op{i}", f"c{i}") for i in range(500)))
    assert len(await presence.who("w")) == 500


async def test_a_process_taken_for_dead_lists_its_connections_again_at_its_next_heartbeat(
    processes: tuple[Clock, Callable[[], RedisPresence]],
) -> None:
    clock, make = processes
    stalled, other = make(), make()
    await stalled.online("w", "op1", "c1")
    await other.online("w", "op2", "c2")
    clock.now += TTL + 1  # stalled missed its heartbeats
    assert await other.refresh() == [("w", "op1")]
    assert await stalled.refresh() == []
    assert await other.who("w") == {"op1", "op2"}


async def test_a_heartbeat_costs_the_same_however_many_sockets_the_process_holds(
    processes: tuple[Clock, Callable[[], RedisPresence]], client: redis.asyncio.Redis
) -> None:
    presence = processes[1]()

    async def commands() -> int:
        return int((await client.info("stats"))["total_commands_processed"])

    await asyncio.gather(*(presence.online("w", f"op{i}", f"c{i}") for i in range(1000)))
    before = await commands()
    await presence.refresh()
    assert await commands() - before < 10  # one script, not a command per socket


async def test_an_operator_on_many_sockets_costs_one_count_per_process(
    processes: tuple[Clock, Callable[[], RedisPresence]],
    client: redis.asyncio.Redis,
    prefix: str,
) -> None:
    first, second = processes[1](), processes[1]()
    await asyncio.gather(*(first.online("w", "op1", f"a{i}") for i in range(300)))
    await asyncio.gather(*(second.online("w", "op1", f"b{i}") for i in range(200)))
    counts = await client.hgetall(f"{prefix}presence:w\x1fop1")
    assert sorted(counts.values()) == ["200", "300"]  # not a record per socket
