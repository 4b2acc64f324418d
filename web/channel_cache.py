"""Live channels by id for the doors that take one request per message (webhooks, ingest).

Every channel webhook and every ingest request names its channel; looking it up in the
database each time (with its workspace, to refuse a deleted one) was a quarter of an
ingest request's CPU and one more pooled connection per request. Here a lookup is kept
for at most :data:`TTL_S` seconds, so a channel deleted or a workspace deleted on another
process is refused within that even if its bus event is lost (the hardening issue allows
2 s); on the process that deleted it, and wherever the ``gone`` event arrives, the cache
is emptied at once (:meth:`ChannelCache.forget`), so the next request is refused.

Concurrent misses for one channel share one query. Channels are kept as the detached rows
the lookup returned (``expire_on_commit=False``): read them, never add them to a session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from hub.gone import Gone
from hub.ratelimit import Clock
from storage.models import Channel

TTL_S = 1.0
MAX_ENTRIES = 10_000
# Gone events that can end a channel's life: the others (a session, a token, a contact)
# change nothing a channel lookup answers.
_CHANNEL_KINDS = frozenset({"channel", "workspace"})

Lookup = Callable[[str], Awaitable[Channel | None]]


class ChannelCache:
    """``channel_id -> Channel | None`` (None: no live channel), each answer kept ``ttl_s``."""

    def __init__(self, lookup: Lookup, *, ttl_s: float = TTL_S, clock: Clock = time.monotonic):
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, Channel | None]] = {}
        self._loading: dict[str, asyncio.Future[Channel | None]] = {}
        self._generation = 0  # bumped by forget(): a lookup begun before it is not kept

    async def get(self, channel_id: str, kinds: tuple[str, ...] | None = None) -> Channel | None:
        """The live channel ``channel_id`` (of one of ``kinds`` if given), or None."""
        now = self._clock()
        entry = self._entries.get(channel_id)
        if entry is not None and entry[0] > now:
            channel = entry[1]
        else:
            channel = await self._load(channel_id)
        if channel is None or (kinds is not None and channel.kind not in kinds):
            return None
        return channel

    async def _load(self, channel_id: str) -> Channel | None:
        loading = self._loading.get(channel_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[Channel | None] = asyncio.get_running_loop().create_future()
        self._loading[channel_id] = future
        generation = self._generation
        try:
            channel = await self._lookup(channel_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody logs it as lost
            raise
        finally:
            del self._loading[channel_id]
        if generation == self._generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._prune()
            self._entries[channel_id] = (self._clock() + self._ttl_s, channel)
        future.set_result(channel)
        return channel

    def _prune(self) -> None:
        now = self._clock()
        self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()

    def forget(self, event: Gone) -> None:
        """A channel or a workspace went away: drop every answer (rare; cheap to refill)."""
        if any(ref.kind in _CHANNEL_KINDS for ref in event.refs):
            self._entries.clear()
            self._generation += 1
