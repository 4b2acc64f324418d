"""The subscription bookkeeping both Redis buses share (hub/redis_subscriptions.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from hub.redis_subscriptions import Subscriptions


async def settles(future: asyncio.Future[None]) -> bool:
    """Whether ``future`` is done within a few turns of the event loop (no clock involved)."""
    for _ in range(10):
        if future.done():
            return True
        await asyncio.sleep(0)
    return future.done()


async def test_a_topic_is_subscribed_on_its_first_reference_and_left_on_its_last() -> None:
    subs = Subscriptions("test bus", None)
    assert [subs.add("t"), subs.add("t")] == [True, False]
    assert [subs.remove("t"), subs.remove("t"), subs.remove("t")] == [False, True, False]
    assert subs.refs == {}


async def test_a_subscriber_waits_for_redis_to_confirm_its_topic() -> None:
    subs = Subscriptions("test bus", None)
    subs.add("t")
    waiting = asyncio.ensure_future(subs.confirmed("t"))
    assert not await settles(waiting)
    subs.confirm("t")
    assert await settles(waiting)


async def test_nobody_waits_for_a_confirmation_while_redis_is_away() -> None:
    subs = Subscriptions("test bus", None)
    subs.add("t")
    waiting = asyncio.ensure_future(subs.confirmed("t"))
    assert not await settles(waiting)
    subs.lost(OSError("gone"), 0.1)
    assert await settles(waiting)
    subs.add("u")  # the listener subscribes it when Redis is back
    assert await settles(asyncio.ensure_future(subs.confirmed("u")))


async def test_an_outage_is_reported_once_when_every_topic_is_back() -> None:
    seen: list[datetime] = []
    subs = Subscriptions("test bus", seen.append)
    assert not subs.restored()  # no outage: nothing to report
    subs.lost(OSError("gone"), 0.1)
    subs.lost(OSError("still gone"), 0.2)
    assert subs.in_outage
    assert subs.restored() and len(seen) == 1
    assert not subs.restored() and len(seen) == 1
