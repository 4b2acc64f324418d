"""Redis pub/sub as the bus: one subscriber connection per process for every topic.

The listener task owns that connection and its whole life: connect, (re)subscribe every
referenced topic, read replies until the connection dies (a ``CLIENT KILL``, a Redis
restart, a network cut), then back off (0.1 s doubling to 5 s) and start over, calling
``on_reconnect`` once every topic is confirmed again. Publishing goes through a
:class:`hub.redis_pipeline.Pipeliner` on a connection of its own, so a blocked subscriber
never holds up a publish: publishes made while one round trip is under way go out
together in the next round, in order.

The listener drives redis-py below its public pub/sub API, at connection level, and reads
its replies straight from the connection's hiredis reader (:class:`hub.redis_pipeline.Replies`);
what it relies on there is pinned by ``tests/hub/test_redis_bus_pins.py`` (see
docs/internals.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from hub.bus import BusUnavailable, OnMessage, OnReconnect, Publication
from hub.redis_pipeline import Pipeliner, Replies
from hub.redis_subscriptions import BACKOFF_CAP_S, BACKOFF_START_S, YIELD_EVERY, Subscriptions

log = logging.getLogger(__name__)


class RedisBus:
    """:class:`hub.bus.Bus` over Redis pub/sub (see the protocol for the guarantees)."""

    def __init__(
        self,
        url: str,
        on_message: OnMessage,
        on_reconnect: OnReconnect | None = None,
        *,
        connect_timeout: float = 2.0,
        name: str = "inviaro-bus",
    ) -> None:
        self._on_message = on_message
        # Fail fast when Redis is away: the socket timeout bounds a whole publishing round
        # (hub.redis_pipeline), and one quick retry covers a connection that a Redis restart
        # left stale; anything more would stall the accept path.
        self._client = Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 1),
        )
        # The subscriber reads forever, so it has no socket timeout; keepalive finds dead peers.
        self._sub_pool: ConnectionPool = ConnectionPool.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=None,
            socket_keepalive=True,
            client_name=name,  # CLIENT LIST shows which connection is the bus
        )
        self._subs = Subscriptions("redis bus", on_reconnect)
        self._conn: AbstractConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._publisher = Pipeliner(self._client, "cannot publish to Redis")

    async def start(self) -> None:
        if self._task is None:
            self._closed = False
            self._task = asyncio.create_task(self._listen(), name="inviaro-redis-bus")

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._subs.close()
        await self._publisher.close()
        await self._client.aclose()
        await self._sub_pool.disconnect()

    async def ping(self) -> bool:
        """Readiness: True when Redis answers."""
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def publish(self, payload: bytes, *topics: str) -> None:
        await self.publish_many(((payload, topics),))

    async def publish_many(self, publications: Sequence[Publication]) -> None:
        if self._closed:
            raise BusUnavailable("the bus is closed")
        await self._publisher.execute(
            *(("PUBLISH", topic, payload) for payload, topics in publications for topic in topics)
        )

    async def subscribe(self, topic: str) -> None:
        if self._subs.add(topic):
            await self._send("SUBSCRIBE", topic)
        await self._subs.confirmed(topic)

    async def unsubscribe(self, topic: str) -> None:
        if self._subs.remove(topic):
            await self._send("UNSUBSCRIBE", topic)

    def topics(self) -> set[str]:
        return set(self._subs.refs)

    async def _send(self, *args: str) -> None:
        # Only ever write on a live subscriber connection: sending on a dead one would make
        # redis-py reconnect it behind the listener's back. A lost command is fine: the
        # listener re-subscribes every referenced topic when it reconnects.
        conn = self._conn
        if conn is None or not conn.is_connected:
            return
        try:
            await conn.send_command(*args, check_health=False)
        except (RedisError, OSError) as err:
            log.warning("redis bus: %s not sent (%s); the listener will resubscribe", args[0], err)

    async def _listen(self) -> None:
        delay = BACKOFF_START_S
        while not self._closed:
            conn: AbstractConnection = self._sub_pool.make_connection()  # type: ignore[no-untyped-call]
            try:
                await conn.connect()  # type: ignore[no-untyped-call]
                self._conn = conn
                self._subs.connected()
                topics = list(self._subs.refs)
                pending = set(topics)
                if topics:
                    await conn.send_command("SUBSCRIBE", *topics, check_health=False)
                if not pending:
                    self._subs.restored()
                delay = BACKOFF_START_S
                handled = 0
                replies = Replies(conn)
                while True:
                    for reply in await replies.ready():
                        self._handle(reply, pending)
                        if not pending and self._subs.in_outage:
                            self._subs.restored()
                        handled += 1
                        if handled % YIELD_EVERY == 0:
                            await asyncio.sleep(0)
            except (RedisError, OSError) as err:
                self._subs.lost(err, delay)
            finally:
                self._conn = None
                await conn.disconnect(nowait=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_CAP_S)

    def _handle(self, reply: Any, pending: set[str]) -> None:
        if not isinstance(reply, list) or len(reply) < 3:
            return
        kind = bytes(reply[0])
        topic = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        if kind == b"message":
            if topic in self._subs.refs:
                try:
                    self._on_message(topic, bytes(reply[2]))
                except Exception:
                    log.exception("redis bus: handler failed for topic %s", topic)
        elif kind == b"subscribe":
            pending.discard(topic)
            self._subs.confirm(topic)
