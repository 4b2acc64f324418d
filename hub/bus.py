"""The bus: a doorbell between hub processes, never the record.

The database is the source of truth; the bus only tells every process "this just happened"
so it can write to its local sockets. Implementations never import the hub: they call back
the ``on_message`` handler the composition root gives them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]
"""``on_message(topic, payload)``: called on the event loop; must not block or await."""

OnReconnect = Callable[[datetime], None]
"""``on_reconnect(since)``: subscriptions are back after an outage that began at ``since``."""

Publication = tuple[bytes, Sequence[str]]
"""``(payload, topics)``: one payload and every topic it goes to."""


class BusUnavailable(Exception):
    """The bus (Redis) cannot be reached right now; deliver locally and rely on resume."""


class Bus(Protocol):
    """Topic pub/sub between hub processes.

    Guarantees: at most once (a payload may be lost, never duplicated by the bus); payloads
    one publisher sends to one topic arrive in publish order; nothing across topics or
    publishers. During a reconnect payloads are dropped; afterwards ``on_reconnect(since)``
    is called so the caller re-delivers from the database what it may have missed.
    """

    async def start(self) -> None:
        """Begin listening. Subscriptions made before ``start`` take effect here."""
        ...

    async def close(self) -> None:
        """Stop listening and release connections; ``publish`` then raises BusUnavailable."""
        ...

    async def ping(self) -> bool:
        """Readiness: whether the bus's backing service answers now (never raises)."""
        ...

    async def publish(self, payload: bytes, *topics: str) -> None:
        """Hand ``payload`` to every process subscribed to each of ``topics`` (this one
        included), in one go: several topics cost one wait, not one each.

        Raises :class:`BusUnavailable` when it cannot; the caller then delivers locally.
        """
        ...

    async def publish_many(self, publications: Sequence[Publication]) -> None:
        """Publish each ``(payload, topics)`` as :meth:`publish` would, in this order, in
        one go: one wait and (on Redis) one round trip for all of them, so everything one
        event publishes costs what one publish does, and a process subscribed to topics of
        two of them receives the earlier first.

        Raises :class:`BusUnavailable` when it cannot (some may have gone out); the caller
        then delivers all of them locally.
        """
        ...

    async def subscribe(self, topic: str) -> None:
        """Reference ``topic``. The first reference subscribes; once this returns, later
        publishes reach ``on_message`` (unless the bus is down: it never raises, and the
        subscription is made when the bus comes back)."""
        ...

    async def unsubscribe(self, topic: str) -> None:
        """Drop one reference; the last one unsubscribes. Extra calls are ignored."""
        ...


class MemoryBus:
    """The one-process bus: publish calls the handler directly, in order."""

    def __init__(self, on_message: OnMessage, on_reconnect: OnReconnect | None = None) -> None:
        self._on_message = on_message
        self._on_reconnect = on_reconnect  # never called: an in-process bus has no outages
        self._refs: dict[str, int] = {}
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True

    async def ping(self) -> bool:
        return True  # in process: nothing to reach

    async def publish(self, payload: bytes, *topics: str) -> None:
        await self.publish_many(((payload, topics),))

    async def publish_many(self, publications: Sequence[Publication]) -> None:
        if self._closed:
            raise BusUnavailable("the bus is closed")
        for payload, topics in publications:
            for topic in topics:
                if topic in self._refs:
                    try:
                        self._on_message(topic, payload)
                    except Exception:
                        log.exception("bus handler failed for topic %s", topic)

    async def subscribe(self, topic: str) -> None:
        self._refs[topic] = self._refs.get(topic, 0) + 1

    async def unsubscribe(self, topic: str) -> None:
        count = self._refs.get(topic, 0)
        if count <= 1:
            self._refs.pop(topic, None)
        else:
            self._refs[topic] = count - 1

    def topics(self) -> set[str]:
        """The topics currently referenced (for tests and diagnostics)."""
        return set(self._refs)
