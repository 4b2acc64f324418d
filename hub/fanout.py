"""Local sockets, the topics they joined, and fan-out of bus payloads to them.

A payload from the bus is decoded at most once and encoded at most once per wire format;
every socket on the topic gets the very same ``bytes``/``str`` object pushed onto its
bounded queue without awaiting. Once per turn of the event loop, one callback writes each
socket's queue back to back through the injected ``send``, which usually completes at once;
a socket that makes a send wait gets a writer task that finishes its queue and ends. So an
idle socket holds no queue and no task. With a framer (the web layer's WebSocket framing)
that shared object is the payload's frame, and a socket whose :class:`Wire` can take it now
gets it written straight, with the frames queued behind it, in one write.

A bus delivery is not queued socket by socket: the turn's payloads for a topic wait as one
:class:`_Delivery`, and at the end of the turn one loop over the topic's sockets writes
their frames, joined once, straight to each idle socket's wire (one call per socket); only
a socket that is busy, or whose wire cannot take them now, gets them in its queue. A frame
pushed to a socket between a delivery and the end of the turn settles that delivery for
the socket first, so every socket gets everything in the order it was sent.

One socket's queue, writer and bounds: :mod:`hub.connection`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

from hub.bus import Bus
from hub.codec import Format, decode_msgpack, encode_json
from hub.connection import (
    CLOSE_OVERLOADED,
    DEFAULT_QUEUE_BOUND,
    DEFAULT_QUEUE_BYTES,
    SLOW_GRACE_S,
    WRITE_RUN_BYTES,
    Close,
    Connection,
    Framed,
    Framer,
    Send,
    Wire,
    framed,
)

__all__ = [
    "CLOSE_OVERLOADED",
    "CLOSE_RESTARTING",
    "DEFAULT_QUEUE_BOUND",
    "DEFAULT_QUEUE_BYTES",
    "SLOW_GRACE_S",
    "WRITE_RUN_BYTES",
    "Close",
    "Connection",
    "Counters",
    "Framed",
    "Framer",
    "Registry",
    "Send",
    "Wire",
    "conversation_topic",
    "operator_topic",
    "workspace_topic",
]

log = logging.getLogger(__name__)

CLOSE_RESTARTING = 1012


# Every topic carries its workspace id as a Redis Cluster hash tag (the part in braces is
# what a cluster hashes), so all of a workspace's topics share one slot and one master: a
# message's publish to its workspace and conversation goes to one node in one round trip.
# One naming for one Redis and a cluster alike.
def workspace_topic(workspace_id: str) -> str:
    """Operators of a workspace: every message, conversation, receipt and presence frame."""
    return f"ws:{{{workspace_id}}}"


def conversation_topic(workspace_id: str, conversation_id: str) -> str:
    """The visitor of one conversation: its messages and operators' typing."""
    return f"conv:{{{workspace_id}}}:{conversation_id}"


def operator_topic(workspace_id: str, operator_id: str) -> str:
    """One operator's sockets in a workspace: frames for that operator only (an @mention)."""
    return f"op:{{{workspace_id}}}:{operator_id}"


@dataclass(slots=True)
class Counters:
    """Plain integers the web layer exports to Prometheus; the hub imports no metrics lib."""

    sockets_open: int = 0
    frames_out: int = 0
    overloaded: int = 0
    encodes: int = 0


class _Delivery:
    """The payloads delivered to one topic on this turn of the loop, written to its sockets
    at the end of the turn: each socket's frames in one write, built and joined once."""

    __slots__ = ("_built", "_outbox", "done", "members", "payloads", "topic")

    def __init__(
        self, topic: str, members: set[Connection], payload: bytes, outbox: _Outbox
    ) -> None:
        self.topic = topic
        # The topic's own set: a socket that joins on this turn is put in ``done``, one that
        # leaves settles first (see Registry.join and leave), so this is who was there.
        self.members = members
        self.payloads = [payload]  # msgpack, as the bus carries them
        self.done: set[Connection] | None = None  # sockets already given these (settled)
        self._outbox = outbox
        self._built: dict[str, tuple[list[str | bytes], bytes | None]] = {}

    def frames(self, fmt: Format) -> tuple[list[str | bytes], bytes | None]:
        """What a socket of ``fmt`` gets, one item per payload (frames with a framer), and
        all of it joined for one write (None without a framer, or past WRITE_RUN_BYTES)."""
        built = self._built.get(fmt)
        if built is None:
            outbox = self._outbox
            items: list[str | bytes] = []
            for payload in self.payloads:
                data = outbox.framed(fmt, payload, self.topic)
                if data is not None:
                    items.append(data)
            joined: bytes | None = None
            if outbox.framer is not None and items:
                # Exact bytes, even for one frame (a Framed is a bytes subclass): uvloop
                # writes those as they are, but wraps anything else in two memoryviews on
                # every socket's write (docs/internals.md).
                joined = b"".join(cast(list[bytes], items))  # all Framed
                if len(items) > 1 and len(joined) > WRITE_RUN_BYTES:
                    joined = None
            built = self._built[fmt] = (items, joined)
        return built


class _Outbox:
    """What the connections of one registry share: the counters, the queue bounds, the bus
    deliveries and the connections with frames to write on this turn of the event loop,
    the frames built on it, and the publish times of what was delivered on it (fan-out
    latency, observed once the frames are written)."""

    __slots__ = (
        "_deliveries",
        "_due",
        "_framed",
        "_scheduled",
        "_stamps",
        "counters",
        "framer",
        "limit",
        "max_bytes",
        "observe",
    )

    def __init__(
        self,
        counters: Counters,
        limit: int,
        max_bytes: int,
        observe: Callable[[float], None] | None = None,
        framer: Framer | None = None,
    ) -> None:
        self.counters = counters
        self.limit = limit
        self.max_bytes = max_bytes
        self.observe = observe
        self.framer = framer
        self._deliveries: list[_Delivery] = []
        self._due: list[Connection] = []
        # (format, payload) -> what sockets of that format get: a message comes in on two
        # topics (its workspace's and its conversation's), framed once for both.
        self._framed: dict[tuple[Format, bytes], str | bytes | None] = {}
        self._stamps: list[float] = []
        self._scheduled = False  # a _flush is due on this turn (or running)

    def _wake(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def schedule(self, conn: Connection) -> None:
        if not self._scheduled:  # _wake, inlined: once per socket on the queued path
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        self._due.append(conn)

    def stamp(self, published_at: float) -> None:
        """A delivery published at ``published_at`` (wall clock) was queued on this turn."""
        self._wake()
        self._stamps.append(published_at)

    def deliver(self, topic: str, members: set[Connection], payload: bytes) -> None:
        """``payload`` for every socket in ``members`` (``topic``'s), written at the end of
        the turn; the turn's payloads for one topic go together as long as none of its
        sockets was given them early (:meth:`settle`)."""
        deliveries = self._deliveries
        if deliveries:
            last = deliveries[-1]
            if last.members is members and last.done is None:
                last.payloads.append(payload)
                return
        else:
            self._wake()
        deliveries.append(_Delivery(topic, members, payload, self))

    def framed(self, fmt: Format, payload: bytes, topic: str) -> str | bytes | None:
        """``payload`` as sockets of ``fmt`` take it, framed once for all of them if there
        is a framer (None, logged, if it cannot be read); built once on this turn of the
        loop, whichever topics it came on."""
        key = (fmt, payload)
        if key in self._framed:
            return self._framed[key]
        data: str | bytes | None = payload
        if fmt != "msgpack":
            try:
                data = encode_json(decode_msgpack(payload))
            except Exception:
                log.exception("undecodable bus payload on %s", topic)
                data = None
            else:
                self.counters.encodes += 1
        if data is not None and self.framer is not None:
            data = framed(self.framer, data)
        self._framed[key] = data
        self._wake()  # forgotten at the end of the turn
        return data

    def settle(self, conn: Connection) -> None:
        """Queue for ``conn`` now what this turn's deliveries hold for it, so that what is
        pushed to it next goes behind them."""
        for delivery in self._deliveries:
            done = delivery.done
            if conn in delivery.members and (done is None or conn not in done):
                if done is None:
                    done = delivery.done = set()
                done.add(conn)
                for data in delivery.frames(conn.fmt)[0]:
                    conn._put(data)

    def exclude(self, conn: Connection, members: set[Connection]) -> None:
        """``conn`` joins ``members`` now: this turn's deliveries to them are not its."""
        for delivery in self._deliveries:
            if delivery.members is members:
                if delivery.done is None:
                    delivery.done = set()
                delivery.done.add(conn)

    def _flush(self) -> None:
        try:
            deliveries, self._deliveries = self._deliveries, []
            for delivery in deliveries:
                self._write(delivery)
            while self._due:
                due, self._due = self._due, []
                for conn in due:
                    conn._drain()
            if self._stamps:
                # Written now to every socket that could take it at once; a slow socket's
                # frames wait in its bounded queue (and it is cut off past the bound).
                stamps, self._stamps = self._stamps, []
                if self.observe is not None:
                    now = time.time()
                    for published_at in stamps:
                        self.observe(max(0.0, now - published_at))
        finally:
            self._scheduled = False
            self._framed.clear()
            if self._deliveries or self._due or self._stamps:  # came in while writing
                self._wake()

    def _write(self, delivery: _Delivery) -> None:
        """The one loop over a topic's sockets: an idle socket whose wire takes the frames
        now gets them in one write; any other gets them in its queue, behind what is there."""
        done = delivery.done
        as_msgpack: tuple[list[str | bytes], bytes | None] | None = None
        as_json: tuple[list[str | bytes], bytes | None] | None = None
        put = Connection._put
        written = 0
        for conn in delivery.members:
            if done is not None and conn in done:
                continue
            if conn.fmt == "msgpack":
                if as_msgpack is None:
                    as_msgpack = delivery.frames("msgpack")
                items, joined = as_msgpack
            else:
                if as_json is None:
                    as_json = delivery.frames("json")
                items, joined = as_json
            if (
                joined is not None
                and conn._queue is None  # idle (or closed: _put drops it)
                and conn.close_code is None
                and (wire := conn._wire) is not None
            ):
                try:
                    if wire.write_frames(joined):
                        written += len(items)
                        continue
                except Exception as err:
                    conn._broken(err)
                    continue
            if len(items) == 1:
                put(conn, items[0])
            else:
                for data in items:
                    put(conn, data)
        self.counters.frames_out += written


class Registry:
    """topic → local connections, with the bus subscribed while a topic has any."""

    def __init__(
        self,
        bus: Bus,
        queue_bound: int = DEFAULT_QUEUE_BOUND,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        observe_fanout: Callable[[float], None] | None = None,
        framer: Framer | None = None,
    ) -> None:
        self.bus = bus
        self._framer = framer  # None: sockets get payloads, never frames
        self.counters = Counters()
        # Seconds from a publish to its frames written here (metrics, by the web layer).
        self._outbox = _Outbox(self.counters, queue_bound, queue_bytes, observe_fanout, framer)
        self._topics: dict[str, set[Connection]] = {}
        self._conns: set[Connection] = set()

    def connect(
        self, fmt: Format, send: Send, close: Close, wire: Wire | None = None
    ) -> Connection:
        """Register a new socket (call inside the endpoint, after the handshake); with a
        ``wire``, what the registry framed goes straight to it whenever it can take it."""
        conn = Connection(fmt, send, close, self._outbox, wire)
        self._conns.add(conn)
        self.counters.sockets_open += 1
        return conn

    async def disconnect(self, conn: Connection) -> None:
        """Forget a socket: leave its topics and stop its writer. Safe to call twice."""
        if conn in self._conns:
            self._conns.discard(conn)
            self.counters.sockets_open -= 1
        await self.leave_all(conn)
        await conn.stop()

    async def join(self, conn: Connection, topic: str) -> None:
        """Add ``conn`` to ``topic``; the first local member subscribes the bus."""
        if topic in conn.topics:
            return
        conn.topics += (topic,)
        members = self._topics.get(topic)
        if members is None:
            self._topics[topic] = {conn}
            await self.bus.subscribe(topic)
        else:
            if self._outbox._deliveries:  # delivered before it joined: not for it
                self._outbox.exclude(conn, members)
            members.add(conn)

    async def leave(self, conn: Connection, topic: str) -> None:
        """Remove ``conn`` from ``topic``; the last local member unsubscribes the bus."""
        if topic not in conn.topics:
            return
        conn.topics = tuple(t for t in conn.topics if t != topic)
        if self._outbox._deliveries:  # delivered while it was still here: still its
            self._outbox.settle(conn)
        members = self._topics.get(topic)
        if members is not None:
            members.discard(conn)
            if not members:
                del self._topics[topic]
                await self.bus.unsubscribe(topic)

    async def leave_all(self, conn: Connection) -> None:
        for topic in conn.topics:
            await self.leave(conn, topic)

    def topics(self) -> list[str]:
        """Topics with at least one local connection."""
        return list(self._topics)

    def deliver(self, topic: str, payload: bytes, published_at: float | None = None) -> None:
        """The bus handler: push a msgpack-encoded frame to every local socket on ``topic``;
        ``published_at`` (wall clock), when the publisher stamped it, times the fan-out."""
        members = self._topics.get(topic)
        if not members:
            return
        self._outbox.deliver(topic, members, payload)
        if published_at is not None and self._outbox.observe is not None:
            self._outbox.stamp(published_at)

    def redeliver(self, topic: str, payload: bytes) -> Iterable[Connection]:
        """Feed a frame the bus may have dropped to every local socket on ``topic``, behind
        what is live (see :meth:`Connection.feed`); returns those sockets."""
        members = self._topics.get(topic)
        if not members:
            return ()
        for conn in members:
            data = self._outbox.framed(conn.fmt, payload, topic)
            if data is not None:
                conn.feed(data)
        return members

    async def catch_up(self, conns: Iterable[Connection], timeout_s: float) -> None:
        """Wait for ``conns`` to pull their re-delivery backlogs down; close with 1013 (the
        client resumes) any that could not within ``timeout_s``."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        for conn in conns:
            left = deadline - asyncio.get_running_loop().time()
            if not await conn.drain_backlog(left):
                conn._overloaded(f"{conn.backlog} re-delivered frames not taken")

    def close_topic(self, topic: str, code: int) -> None:
        """Close every local socket on ``topic`` (erased conversation, revoked session)."""
        for conn in list(self._topics.get(topic, ())):
            conn.close(code)

    async def close_all(self, code: int = CLOSE_RESTARTING) -> None:
        """Shutdown: close every local socket with ``code`` and wait for the closes."""
        conns = list(self._conns)
        for conn in conns:
            conn.close(code)
        await asyncio.gather(*(conn.wait_closed() for conn in conns))
