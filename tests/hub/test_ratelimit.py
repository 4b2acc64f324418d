from __future__ import annotations

from hub.ratelimit import TokenBucket


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
