"""The channel cache of the webhook and ingest doors: a second at most, emptied by gone."""

from __future__ import annotations

import asyncio

from hub.gone import gone
from storage.models import Channel
from web.channel_cache import ChannelCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Lookups:
    """A database stand-in that counts the lookups it answers."""

    def __init__(self, kind: str = "custom") -> None:
        self.channel: Channel | None = Channel(id="ch_1", workspace_id="ws_1", kind=kind)
        self.calls = 0

    async def __call__(self, channel_id: str) -> Channel | None:
        self.calls += 1
        await asyncio.sleep(0)
        return self.channel if channel_id == "ch_1" else None


async def test_a_channel_is_looked_up_once_within_its_second() -> None:
    lookups, clock = Lookups(), Clock()
    cache = ChannelCache(lookups, ttl_s=1.0, clock=clock)
    assert await cache.get("ch_1") is lookups.channel
    clock.now += 0.9
    assert await cache.get("ch_1") is lookups.channel
    assert lookups.calls == 1


async def test_a_channel_deleted_elsewhere_is_refused_after_its_second() -> None:
    lookups, clock = Lookups(), Clock()
    cache = ChannelCache(lookups, ttl_s=1.0, clock=clock)
    await cache.get("ch_1")
    lookups.channel = None  # deleted by another process whose bus event was lost
    clock.now += 1.01
    assert await cache.get("ch_1") is None


async def test_a_gone_channel_or_workspace_empties_the_cache_at_once() -> None:
    for event in (
        gone("channel_deleted", "channel", "ch_1"),
        gone("workspace_deleted", "workspace", "ws_1"),
    ):
        lookups = Lookups()
        cache = ChannelCache(lookups, clock=Clock())
        await cache.get("ch_1")
        lookups.channel = None
        cache.forget(event)
        assert await cache.get("ch_1") is None


async def test_other_gone_events_keep_the_cache() -> None:
    lookups = Lookups()
    cache = ChannelCache(lookups, clock=Clock())
    await cache.get("ch_1")
    cache.forget(gone("token_revoked", "token", "tok_1"))
    await cache.get("ch_1")
    assert lookups.calls == 1


async def test_concurrent_misses_share_one_lookup() -> None:
    lookups = Lookups()
    cache = ChannelCache(lookups, clock=Clock())
    found = await asyncio.gather(*(cache.get("ch_1") for _ in range(20)))
    assert all(c is lookups.channel for c in found)
    assert lookups.calls == 1


async def test_a_channel_of_another_kind_is_not_found() -> None:
    cache = ChannelCache(Lookups(kind="whatsapp"), clock=Clock())
    assert await cache.get("ch_1", ("custom",)) is None
    assert await cache.get("ch_1", ("whatsapp", "messenger")) is not None


async def test_a_lookup_begun_before_a_gone_event_is_not_kept() -> None:
    lookups = Lookups()
    cache = ChannelCache(lookups, clock=Clock())
    pending = asyncio.ensure_future(cache.get("ch_1"))
    await asyncio.sleep(0)  # the lookup is under way
    cache.forget(gone("channel_deleted", "channel", "ch_1"))
    await pending
    lookups.channel = None
    assert await cache.get("ch_1") is None
