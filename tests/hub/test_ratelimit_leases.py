"""Leases: a large budget is taken from the shared limiter a slice at a time and spent in
the process, never allowing more than the budget; small budgets are asked every time."""

from __future__ import annotations

import asyncio

from hub.ratelimit import LeasedLimiter, Limit, MemoryLimiter
from tests.hub.test_ratelimit import Clock

THOUSAND_PER_S = Limit(1000, 1)


class Counted(MemoryLimiter):
    """The shared limiter, counting how often it is asked."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.asked = 0

    async def take(self, key: str, limit: Limit) -> float | None:
        self.asked += 1
        return await super().take(key, limit)

    async def take_many(self, key: str, limit: Limit, n: int) -> float | None:
        self.asked += 1
        await asyncio.sleep(0)  # a round trip: others may come meanwhile
        return await super().take_many(key, limit, n)


async def test_a_large_budget_asks_the_shared_limiter_once_per_lease() -> None:
    clock = Clock()
    shared = Counted(clock)
    limiter = LeasedLimiter(shared, clock)
    assert [await limiter.take("k", THOUSAND_PER_S) for _ in range(100)] == [None] * 100
    assert shared.asked == 5  # leases of 20


async def test_processes_with_leases_together_get_no_more_than_the_budget() -> None:
    clock = Clock()
    shared = MemoryLimiter(clock)
    processes = [LeasedLimiter(shared, clock) for _ in range(3)]
    allowed = 0
    for n in range(3000):  # at one instant: only the burst may pass
        allowed += await processes[n % 3].take("k", THOUSAND_PER_S) is None
    assert allowed <= 1000
    assert allowed >= 1000 - 3 * 20  # at most one lease per process unspent


async def test_concurrent_requests_share_one_lease_fetch() -> None:
    clock = Clock()
    shared = Counted(clock)
    limiter = LeasedLimiter(shared, clock)
    answers = await asyncio.gather(*(limiter.take("k", THOUSAND_PER_S) for _ in range(20)))
    assert answers == [None] * 20
    assert shared.asked == 1


async def test_a_lease_not_spent_in_its_time_is_not_spent_later() -> None:
    clock = Clock()
    shared = Counted(clock)
    limiter = LeasedLimiter(shared, clock)
    await limiter.take("k", THOUSAND_PER_S)
    clock.now += LeasedLimiter.LEASE_S + 0.01  # the lease has run out
    await limiter.take("k", THOUSAND_PER_S)
    assert shared.asked == 2


async def test_a_small_budget_is_asked_for_every_event() -> None:
    clock = Clock()
    shared = Counted(clock)
    limiter = LeasedLimiter(shared, clock)
    five = Limit(5, 3600)
    assert [await limiter.take("k", five) for _ in range(6)][-2:] == [None, 3600 / 5]
    assert shared.asked == 6
