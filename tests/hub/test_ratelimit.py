"""The token bucket, shared buckets, and the Limiter contract run against MemoryLimiter and
RedisLimiter alike, all on an injected clock."""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from hub.ratelimit import Limit, Limiter, MemoryLimiter, RedisLimiter, SharedBuckets, TokenBucket
from tests.conftest import free_port


def test_burst_then_refill() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert bucket.allow() and not bucket.allow()


def test_refill_is_capped_at_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=100, burst=2, clock=lambda: now[0])
    now[0] += 60
    assert [bucket.allow() for _ in range(3)] == [True, True, False]


def test_holders_of_one_key_share_one_bucket() -> None:
    buckets = SharedBuckets(rate=1, burst=3, clock=lambda: 0.0)
    first, second = buckets.get("visitor"), buckets.get("visitor")
    assert [first.allow(), second.allow(), first.allow(), second.allow()] == [
        True,
        True,
        True,
        False,
    ]
    assert buckets.get("another").allow()


def test_a_bucket_nobody_holds_is_let_go() -> None:
    buckets = SharedBuckets(rate=1, burst=1, clock=lambda: 0.0)
    assert not (buckets.get("visitor").allow() and buckets.get("visitor").allow())
    gc.collect()
    assert buckets.get("visitor").allow()  # a fresh budget: the old bucket had no holder


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


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


Factory = Callable[[], Limiter]


@pytest.fixture(params=["memory", "redis", "cluster"])
async def limiters(
    request: pytest.FixtureRequest, prefix: str
) -> AsyncIterator[tuple[Clock, Factory]]:
    """A clock and a factory of limiters sharing their budgets (as processes would)."""
    clock = Clock()
    made: list[Limiter] = []
    shared = MemoryLimiter(clock)

    def factory() -> Limiter:
        if request.param == "memory":
            return shared
        url = request.getfixturevalue(f"hub_{request.param}_url")
        made.append(RedisLimiter(url, clock, prefix=prefix))
        return made[-1]

    yield clock, factory
    for limiter in made:
        await limiter.close()


FIVE_PER_10S = Limit(5, 10)


async def test_a_full_budget_allows_count_at_once_then_says_how_long_to_wait(
    limiters: tuple[Clock, Factory],
) -> None:
    _, make = limiters
    limiter = make()
    assert [await limiter.take("k", FIVE_PER_10S) for _ in range(5)] == [None] * 5
    wait = await limiter.take("k", FIVE_PER_10S)
    assert wait == pytest.approx(2.0)


async def test_a_refusal_spends_nothing(limiters: tuple[Clock, Factory]) -> None:
    clock, make = limiters
    limiter = make()
    for _ in range(5):
        await limiter.take("k", FIVE_PER_10S)
    for _ in range(20):
        assert await limiter.take("k", FIVE_PER_10S) is not None
    clock.now += 2.0
    assert await limiter.take("k", FIVE_PER_10S) is None


async def test_the_budget_refills_one_per_interval(limiters: tuple[Clock, Factory]) -> None:
    clock, make = limiters
    limiter = make()
    for _ in range(5):
        await limiter.take("k", FIVE_PER_10S)
    clock.now += 4.1  # two intervals
    assert [await limiter.take("k", FIVE_PER_10S) for _ in range(3)][:2] == [None, None]
    clock.now += 60
    assert [await limiter.take("k", FIVE_PER_10S) for _ in range(6)].count(None) == 5


async def test_a_given_back_event_can_be_taken_again(limiters: tuple[Clock, Factory]) -> None:
    _, make = limiters
    limiter = make()
    for _ in range(5):
        await limiter.take("k", FIVE_PER_10S)
    await limiter.give_back("k", FIVE_PER_10S)
    assert await limiter.take("k", FIVE_PER_10S) is None
    assert await limiter.take("k", FIVE_PER_10S) is not None


async def test_giving_back_never_raises_the_budget_above_full(
    limiters: tuple[Clock, Factory],
) -> None:
    _, make = limiters
    limiter = make()
    for _ in range(3):
        await limiter.give_back("k", FIVE_PER_10S)
    assert [await limiter.take("k", FIVE_PER_10S) for _ in range(6)].count(None) == 5


async def test_keys_have_separate_budgets(limiters: tuple[Clock, Factory]) -> None:
    _, make = limiters
    limiter = make()
    for _ in range(5):
        await limiter.take("one", FIVE_PER_10S)
    assert await limiter.take("one", FIVE_PER_10S) is not None
    assert await limiter.take("two", FIVE_PER_10S) is None


async def test_every_process_spends_from_the_same_budget(
    limiters: tuple[Clock, Factory],
) -> None:
    _, make = limiters
    processes = [make(), make()]
    answers = [await processes[n % 2].take("k", FIVE_PER_10S) for n in range(8)]
    assert answers.count(None) == 5


async def test_redis_keys_expire_when_their_budget_is_full_again(
    hub_redis_url: str, prefix: str
) -> None:
    clock = Clock()
    limiter = RedisLimiter(hub_redis_url, clock, prefix=prefix)
    client = redis.asyncio.Redis.from_url(hub_redis_url)
    try:
        await limiter.take("k", Limit(3, 30))
        ttl_ms = await client.pttl(f"{prefix}k")
        assert 0 < ttl_ms <= 10_000  # one event's share of 30 s per 3
    finally:
        await client.aclose()
        await limiter.close()


async def test_an_unreachable_redis_allows_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", Clock())
    try:
        with caplog.at_level(logging.WARNING, logger="hub.ratelimit"):
            answers = [await limiter.take("k", Limit(1, 60)) for _ in range(3)]
    finally:
        await limiter.close()
    assert answers == [None, None, None]
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1


async def test_the_memory_limiter_drops_full_budgets_as_it_grows() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    for n in range(5000):
        await limiter.take(f"address-{n}", Limit(1, 1))
    clock.now += 2  # every one of those budgets is full again
    for n in range(5000):
        await limiter.take(f"other-{n}", Limit(1, 1))
    assert len(limiter) == 5000
