"""What both Redis buses keep of their subscriptions, apart from the connections, and how
their listeners pace themselves.

:class:`hub.redis_bus.RedisBus` and :class:`hub.redis_cluster_bus.ClusterBus` differ in how
they reach Redis (one connection, or one per master) but not in what they promise: a topic
is subscribed once however many sockets reference it; ``subscribe`` returns once Redis has
confirmed it, so a publish made after that is heard, except while Redis is away (then
nobody waits); an outage is logged once, and ``on_reconnect(since)`` is called once every
topic is confirmed again, so the hub re-delivers from the database what it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from hub.bus import OnReconnect
from hub.model import utcnow

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.1
BACKOFF_CAP_S = 5.0
SUBSCRIBE_WAIT_S = 5.0
# Replies already buffered are read without ever yielding to the event loop: after a stall
# (a SIGSTOP, a slow turn) thousands could be handed to the sockets' queues in one turn,
# before any writer runs. Yield every this many, so writers drain between them.
YIELD_EVERY = 64


class Subscriptions:
    """Referenced topics, Redis's confirmations of them, and the outage under way, if any."""

    def __init__(self, bus: str, on_reconnect: OnReconnect | None) -> None:
        self._bus = bus  # names the bus in the log: "redis bus", "redis cluster bus"
        self._on_reconnect = on_reconnect
        self.refs: dict[str, int] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._down = False  # the listener lost Redis and has not got it back yet
        self._outage_since: datetime | None = None

    def add(self, topic: str) -> bool:
        """Reference ``topic``; True for its first reference (the caller subscribes)."""
        count = self.refs.get(topic, 0)
        self.refs[topic] = count + 1
        if count == 0:
            self._confirmed[topic] = asyncio.get_running_loop().create_future()
        return count == 0

    async def confirmed(self, topic: str) -> None:
        """Wait until Redis confirms ``topic`` (at most :data:`SUBSCRIBE_WAIT_S`). Also while
        the listener is still making its first connection: it subscribes every referenced
        topic once connected. While Redis is away, return at once: the listener subscribes
        when it is back, and ``on_reconnect`` covers the gap."""
        waiter = self._confirmed.get(topic)
        if waiter is not None and not waiter.done() and not self._down:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_WAIT_S)

    def remove(self, topic: str) -> bool:
        """Drop one reference; True for the last one (the caller unsubscribes)."""
        count = self.refs.get(topic, 0)
        if count > 1:
            self.refs[topic] = count - 1
            return False
        if count == 0:
            return False
        del self.refs[topic]
        waiter = self._confirmed.pop(topic, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()
        return True

    def confirm(self, topic: str) -> None:
        """Redis confirmed ``topic``: whoever waits in :meth:`confirmed` goes on."""
        waiter = self._confirmed.get(topic)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connected(self) -> None:
        self._down = False

    def lost(self, err: BaseException, retry_in_s: float) -> None:
        """The listener lost Redis: nobody waits for a confirmation until it is back; said
        once per outage, each retry only at debug."""
        self._down = True
        for waiter in self._confirmed.values():
            if not waiter.done():
                waiter.set_result(None)
        if self._outage_since is None:
            self._outage_since = utcnow()
            log.warning("%s: subscriptions lost (%s); retrying", self._bus, err)
        log.debug("%s: not connected (%s); retrying in %.1fs", self._bus, err, retry_in_s)

    def restored(self) -> bool:
        """Every topic is confirmed again. After an outage: say so, call ``on_reconnect``,
        and return True."""
        since, self._outage_since = self._outage_since, None
        if since is None:
            return False
        log.info("%s: subscriptions restored (%d topics)", self._bus, len(self.refs))
        if self._on_reconnect is not None:
            try:
                self._on_reconnect(since)
            except Exception:
                log.exception("%s: on_reconnect failed", self._bus)
        return True

    @property
    def in_outage(self) -> bool:
        return self._outage_since is not None

    def close(self) -> None:
        """The bus is closing: nobody waits for a confirmation any more."""
        for waiter in self._confirmed.values():
            waiter.cancel()
        self._confirmed.clear()
