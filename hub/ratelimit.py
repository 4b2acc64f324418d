"""Rate limits: a per-socket token bucket, and the :class:`Limiter` every door shares.

Both are sans-clock: the caller supplies the clock, so tests never sleep.

A :class:`Limiter` keeps one budget per key with GCRA (the generic cell rate algorithm): a
key's whole state is one number, the time at which its budget is full again. A
``Limit(count, period_s)`` allows ``count`` at once and then one every ``period_s / count``
seconds, which is "``count`` per ``period_s``" without the double burst a fixed window
allows at its edges. :class:`MemoryLimiter` serves one process; :class:`RedisLimiter`
shares the budgets among every process on one Redis, in one script call per decision.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.exceptions import RedisClusterException, RedisError

from hub.redis_cluster import connect

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class TokenBucket:
    """Allows ``rate`` events per second on average, and bursts of up to ``burst``.

    Two floats of state, so one per socket costs nothing; several sockets may share one
    (a visitor's tabs share one budget).
    """

    __slots__ = ("__weakref__", "_burst", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"expected rate > 0 and burst >= 1, got rate={rate} burst={burst}")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def allow(self, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are enough; False means answer ``rate_limited``."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False


@dataclass(frozen=True, slots=True)
class Limit:
    """``count`` events per ``period_s`` seconds: all of them at once, then evenly."""

    count: int
    period_s: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.period_s <= 0:
            raise ValueError(f"expected count >= 1 and period_s > 0, got {self}")

    @property
    def interval(self) -> float:
        """Seconds one event's share of the budget takes to come back."""
        return self.period_s / self.count

    def __str__(self) -> str:
        return f"{self.count} per {self.period_s:g} s"


class Limiter(Protocol):
    """Budgets by key, shared by everyone who holds the same limiter.

    ``take`` either spends one event of ``key``'s budget and answers None, or spends nothing
    and answers the seconds until one event would be allowed (always > 0): answer 429 with
    ``Retry-After``. ``give_back`` returns one event taken earlier (a login that turned out
    not to be a failure). A limiter that cannot reach its store allows: a rate limit must
    never turn an outage of Redis into an outage of the hub.
    """

    async def take(self, key: str, limit: Limit) -> float | None: ...

    async def give_back(self, key: str, limit: Limit) -> None: ...

    async def close(self) -> None: ...


_US = 1_000_000  # budgets count whole microseconds, so every implementation computes exactly


def _decide(tat: int, now: int, interval: int, count: int, cost: int) -> tuple[int, int]:
    """GCRA in microseconds: from a key's full-again time ``tat``, the new one and the
    wait (0: allowed). The Redis script below is this function, line for line."""
    new = max(tat, now) + interval * cost
    if cost > 0:
        allowed_at = new - interval * count
        if allowed_at > now:
            return tat, allowed_at - now
    return new, 0


class MemoryLimiter:
    """The budgets of one process: a dict of full-again times, pruned as it grows."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._tats: dict[str, int] = {}
        self._prune_at = 1024

    def __len__(self) -> int:
        """How many keys hold state (those whose budget is not full)."""
        return len(self._tats)

    async def take(self, key: str, limit: Limit) -> float | None:
        return self._apply(key, limit, 1)

    async def take_many(self, key: str, limit: Limit, n: int) -> float | None:
        return self._apply(key, limit, n)

    async def give_back(self, key: str, limit: Limit) -> None:
        self._apply(key, limit, -1)

    def _apply(self, key: str, limit: Limit, cost: int) -> float | None:
        now = round(self._clock() * _US)
        interval = round(limit.interval * _US)
        tat, wait = _decide(self._tats.get(key, now), now, interval, limit.count, cost)
        if tat > now:
            self._tats[key] = tat
        else:
            self._tats.pop(key, None)
        if len(self._tats) >= self._prune_at:
            # Keys whose budget is full again hold nothing: drop them (amortised O(1)).
            self._tats = {k: t for k, t in self._tats.items() if t > now}
            self._prune_at = max(1024, 2 * len(self._tats))
        return wait / _US if wait else None

    async def close(self) -> None:
        self._tats.clear()


# KEYS[1]: the key. ARGV: now, interval, count, cost (1 takes, -1 gives back), times in
# whole microseconds so that Redis and Lua compute exactly. Answers 0 when allowed, else
# the microseconds to wait. The key expires when its budget is full again.
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local new = tat + interval * cost
if cost > 0 then
  local allowed_at = new - interval * tonumber(ARGV[3])
  if allowed_at > now then return allowed_at - now end
end
if new <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.ceil((new - now) / 1000))
end
return 0
"""


class RedisLimiter:
    """Budgets shared by every process on one Redis: one script call per decision.

    The clock is the callers' wall clock (processes on different machines agree on it to
    within what a rate limit cares about). While Redis is away every call is allowed, and
    the outage is logged once, not once per request; after a failure Redis is asked again
    only ``RETRY_S`` later, so a stalled Redis delays one request, not every one.
    """

    RETRY_S = 5.0

    def __init__(self, url: str, clock: Clock = time.time, prefix: str = "inviaro:rl:") -> None:
        # On a cluster each key is one slot: the script touches that one key alone.
        self._redis = connect(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        self._script = self._redis.register_script(_GCRA)
        self._clock = clock
        self._prefix = prefix
        self._failing = False
        self._retry_at = 0.0

    async def take(self, key: str, limit: Limit) -> float | None:
        return await self._apply(key, limit, 1)

    async def take_many(self, key: str, limit: Limit, n: int) -> float | None:
        return await self._apply(key, limit, n)

    async def give_back(self, key: str, limit: Limit) -> None:
        await self._apply(key, limit, -1)

    async def _apply(self, key: str, limit: Limit, cost: int) -> float | None:
        now = self._clock()
        if self._failing and now < self._retry_at:
            return None
        args = (round(now * _US), round(limit.interval * _US), limit.count, cost)
        try:
            answer = await self._script(keys=[self._prefix + key], args=args)
        except (RedisError, RedisClusterException, OSError) as err:
            if not self._failing:
                log.warning("rate limits allow everything while Redis is unreachable: %s", err)
                self._failing = True
            self._retry_at = now + self.RETRY_S
            return None
        if self._failing:
            log.warning("rate limits are back on Redis")
            self._failing = False
        return int(answer) / _US if answer else None

    async def close(self) -> None:
        await self._redis.aclose()


class SharedLimiter(Limiter, Protocol):
    """A limiter that can also spend ``n`` events of a budget at once (all or none)."""

    async def take_many(self, key: str, limit: Limit, n: int) -> float | None: ...


class LeasedLimiter:
    """Large budgets spent here in small leases of a shared limiter's budget.

    Asking Redis for every webhook and ingest request was a tenth of such a request's CPU.
    A budget of at least :attr:`MIN_COUNT` events per period is taken from the shared
    limiter :attr:`SHARE` of it at a time (1,000 a second: 20 at once; one request fetches
    a lease while the others wait for it) and spent here for at most :attr:`LEASE_S`
    seconds: the shared store is asked once per lease. When a whole lease is not to be
    had (near the limit), and for small budgets (sign-in failures, sign-ups), every event
    is asked for exactly as before. The shared budget is charged when a lease is taken,
    so all processes together spend at most the budget plus one lease each in any window;
    what a lease does not spend in time is lost to the budget until it refills.
    """

    MIN_COUNT = 100
    SHARE = 0.02
    LEASE_S = 1.0

    def __init__(self, shared: SharedLimiter, clock: Clock = time.monotonic) -> None:
        self._shared = shared
        self._clock = clock
        self._leases: dict[str, tuple[float, int]] = {}  # key -> (spend by, events left)
        self._fetching: dict[str, asyncio.Future[None]] = {}

    async def take(self, key: str, limit: Limit) -> float | None:
        if limit.count < self.MIN_COUNT:
            return await self._shared.take(key, limit)
        while True:
            now = self._clock()
            lease = self._leases.get(key)
            if lease is not None and lease[1] > 0 and now < lease[0]:
                self._leases[key] = (lease[0], lease[1] - 1)
                return None
            fetching = self._fetching.get(key)
            if fetching is None:
                break
            await asyncio.shield(fetching)  # another request is fetching a lease: share it
        done = asyncio.get_running_loop().create_future()
        self._fetching[key] = done
        try:
            size = max(2, int(limit.count * self.SHARE))
            if await self._shared.take_many(key, limit, size) is None:
                if len(self._leases) >= 10_000:
                    self._leases = {k: v for k, v in self._leases.items() if v[0] > now}
                self._leases[key] = (now + self.LEASE_S, size - 1)
                return None
            self._leases.pop(key, None)
        finally:
            del self._fetching[key]
            done.set_result(None)
        return await self._shared.take(key, limit)  # one at a time near the limit

    async def give_back(self, key: str, limit: Limit) -> None:
        await self._shared.give_back(key, limit)

    async def close(self) -> None:
        self._leases.clear()
        await self._shared.close()


class SharedBuckets:
    """One :class:`TokenBucket` per key, shared by all who hold it, gone when none does.

    A visitor's sockets (tabs) share one send budget, so opening more sockets buys no more.
    """

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: weakref.WeakValueDictionary[str, TokenBucket] = weakref.WeakValueDictionary()

    def get(self, key: str) -> TokenBucket:
        """``key``'s bucket; the caller keeps it for as long as it spends from it."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, self._clock)
        return bucket
