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

Three ways in, for three kinds of frame:

- :meth:`Connection.push`, live fan-out: never waits; a socket that cannot keep up (its
  queue past the frame bound, or past the byte bound for longer than a grace period) is
  closed with 1013 (the client reconnects and resumes), so one slow socket never delays
  another.
- :meth:`Connection.push_paced`, what one socket asked for (replies, replays): waits while
  the queue is half full, so it slows only the socket that asked and never cuts it.
- :meth:`Connection.feed`, the hub's re-delivery after a bus outage: kept behind the live
  queue and pulled by the socket's writer as it drains, never counted against the bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any, Protocol, cast

import msgpack

from hub.bus import Bus
from hub.codec import Format, encode, encode_json
from hub.ids import new_id

log = logging.getLogger(__name__)

# A socket's send, as an ``async def``: it is usually run to completion by hand, outside
# any task, so it must not depend on the task it runs in (uvicorn's is pinned to that by
# tests/web/test_ws_send_by_hand.py; what it buys: docs/internals.md).
Send = Callable[[str | bytes], Coroutine[Any, Any, None]]
Close = Callable[[int], Awaitable[None]]
# A payload to its complete wire frame (the web layer's WebSocket framing), injected so the
# hub frames each payload once per format, not once per socket.
Framer = Callable[[str | bytes], bytes]
DEFAULT_QUEUE_BOUND = 256
# Unsent bytes a socket may hold in its queue for longer than SLOW_GRACE_S before it is cut
# off with 1013. The socket's writer waits while uvicorn's buffer is past its high-water
# mark, and the web layer keeps the kernel's send buffer small, so what a reader has not
# taken shows up here instead of hiding in buffers below.
DEFAULT_QUEUE_BYTES = 1024 * 1024
SLOW_GRACE_S = 3.0
CLOSE_OVERLOADED = 1013
CLOSE_RESTARTING = 1012
# Pre-framed frames joined into one write, at most: what one join copies (past it, the next
# write asks the wire again). The wire refuses frames that would take its transport past
# its high-water mark, so what a slow reader has not taken shows in the queue's bound.
WRITE_RUN_BYTES = 16 * 1024


class Wire(Protocol):
    """A socket's transport, for frames already built: the fast path beside ``Send``."""

    def write_frames(self, frames: bytes) -> bool:
        """Write complete frames if the socket can take them now, after everything sent
        before, exactly as ``Send`` would without waiting, and without taking its transport
        past its high-water mark (unless they are all it would hold). False, with nothing
        written, otherwise: then the caller sends them through ``Send``, which waits."""
        ...


class Framed(bytes):
    """A payload's complete frame, shared by every socket it goes to; ``payload`` is what
    ``Send`` takes instead, for a socket without a :class:`Wire` (or not writable now)."""

    payload: str | bytes


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

    __slots__ = ("_built", "_counters", "_framer", "done", "members", "payloads", "topic")

    def __init__(
        self,
        topic: str,
        members: set[Connection],
        payload: bytes,
        framer: Framer | None,
        counters: Counters,
    ) -> None:
        self.topic = topic
        # The topic's own set: a socket that joins on this turn is put in ``done``, one that
        # leaves settles first (see Registry.join and leave), so this is who was there.
        self.members = members
        self.payloads = [payload]  # msgpack, as the bus carries them
        self.done: set[Connection] | None = None  # sockets already given these (settled)
        self._framer = framer
        self._counters = counters
        self._built: dict[str, tuple[list[str | bytes], bytes | None]] = {}

    def frames(self, fmt: Format) -> tuple[list[str | bytes], bytes | None]:
        """What a socket of ``fmt`` gets, one item per payload (frames with a framer), and
        all of it joined for one write (None without a framer, or past WRITE_RUN_BYTES)."""
        built = self._built.get(fmt)
        if built is None:
            items: list[str | bytes] = []
            for payload in self.payloads:
                data = self._as(fmt, payload)
                if data is not None:
                    items.append(_framed(self._framer, data))
            joined: bytes | None = None
            if self._framer is not None and items:
                frames = cast(list[bytes], items)  # all Framed
                joined = frames[0] if len(frames) == 1 else b"".join(frames)
                if len(frames) > 1 and len(joined) > WRITE_RUN_BYTES:
                    joined = None
            built = self._built[fmt] = (items, joined)
        return built

    def _as(self, fmt: Format, payload: bytes) -> str | bytes | None:
        """``payload`` as sockets of ``fmt`` take it (None, logged, if it cannot be read)."""
        if fmt == "msgpack":
            return payload
        try:
            data = encode_json(msgpack.unpackb(payload, raw=False))
        except Exception:
            log.exception("undecodable bus payload on %s", self.topic)
            return None
        self._counters.encodes += 1
        return data


def _framed(framer: Framer | None, data: str | bytes) -> str | bytes:
    """``data`` with its frame built once for every socket (if there is a framer)."""
    if framer is None:
        return data
    framed = Framed(framer(data))
    framed.payload = data
    return framed


class _Outbox:
    """What the connections of one registry share: the counters, the queue bounds, the bus
    deliveries and the connections with frames to write on this turn of the event loop,
    and the publish times of what was delivered on it (fan-out latency, observed once the
    frames are written)."""

    __slots__ = (
        "_deliveries",
        "_due",
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
        self._stamps: list[float] = []
        self._scheduled = False  # a _flush is due on this turn (or running)

    def _wake(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def schedule(self, conn: Connection) -> None:
        self._wake()
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
        deliveries.append(_Delivery(topic, members, payload, self.framer, self.counters))

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

    def _write(self, delivery: _Delivery) -> None:
        """The one loop over a topic's sockets: an idle socket whose wire takes the frames
        now gets them in one write; any other gets them in its queue, behind what is there."""
        done = delivery.done
        as_msgpack: tuple[list[str | bytes], bytes | None] | None = None
        as_json: tuple[list[str | bytes], bytes | None] | None = None
        written = 0
        for conn in delivery.members:
            if conn.close_code is not None or (done is not None and conn in done):
                continue
            if conn.fmt == "msgpack":
                if as_msgpack is None:
                    as_msgpack = delivery.frames("msgpack")
                items, joined = as_msgpack
            else:
                if as_json is None:
                    as_json = delivery.frames("json")
                items, joined = as_json
            wire = conn._wire
            if conn._queue is None and wire is not None and joined is not None:
                try:
                    if wire.write_frames(joined):
                        written += len(items)
                        continue
                except Exception as err:
                    conn._broken(err)
                    continue
            for data in items:
                conn._put(data)
        self.counters.frames_out += written


@types.coroutine
def _finish(coro: Coroutine[Any, Any, None], waiting: Any) -> Generator[Any, Any, None]:
    """Await the rest of ``coro``, which was run by hand until it yielded ``waiting`` (the
    future it waits on): the task awaiting this waits on that future in its stead."""
    while True:
        try:
            value = yield waiting
        except BaseException as err:  # cancellation: the coroutine cleans up and re-raises
            try:
                waiting = coro.throw(err)
            except StopIteration:
                return
        else:
            try:
                waiting = coro.send(value)
            except StopIteration:
                return


class Connection:
    """One socket: its format and, only while it has frames to write, a bounded queue (and
    a writer task, while the socket makes a send wait)."""

    __slots__ = (
        "_backlog",
        "_bytes",
        "_close",
        "_outbox",
        "_queue",
        "_room",
        "_send",
        "_slow",
        "_task",
        "_wire",
        "close_code",
        "fmt",
        "id",
        "topics",
    )

    def __init__(
        self, fmt: Format, send: Send, close: Close, outbox: _Outbox, wire: Wire | None = None
    ) -> None:
        self.id = new_id("conn_")
        self.fmt: Format = fmt
        self.topics: tuple[str, ...] = ()  # almost always one: smaller than a set
        self.close_code: int | None = None  # set once the connection is closing
        self._send = send
        self._close = close
        self._outbox = outbox
        self._queue: deque[str | bytes] | None = None  # None: nothing to write
        self._bytes = 0  # characters or bytes in _queue
        self._slow: asyncio.TimerHandle | None = None  # armed while _bytes is over the bound
        self._backlog: deque[str | bytes] | None = None  # re-delivery, pulled after _queue
        self._room: asyncio.Future[None] | None = None  # a paced pusher waiting for space
        self._task: asyncio.Task[None] | None = None  # the writer, or the closing task
        self._wire = wire  # None: every frame through _send

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    @property
    def backlog(self) -> int:
        """Re-delivered frames not yet pulled by the writer."""
        return len(self._backlog) if self._backlog is not None else 0

    def push(self, data: str | bytes) -> None:
        """Queue ``data`` for the socket; never awaits. Past the frame bound, or past the
        byte bound for longer than :data:`SLOW_GRACE_S`, close with 1013."""
        if self.close_code is not None:
            return
        if self._outbox._deliveries:  # this turn's bus deliveries to it go first
            self._outbox.settle(self)
        self._put(data)

    def _put(self, data: str | bytes) -> None:
        """:meth:`push`, with this turn's deliveries settled (or being written)."""
        if self.close_code is not None:
            return
        queue = self._queue
        if queue is None:  # written on this turn of the loop, after whatever else comes
            self._queue = deque((data,))
            self._bytes = len(data)
            self._outbox.schedule(self)
        elif len(queue) >= self._outbox.limit:
            self._overloaded(f"{len(queue)} frames queued")
            return
        else:
            queue.append(data)
            self._bytes += len(data)
            if self._bytes > self._outbox.max_bytes and self._slow is None:
                loop = asyncio.get_running_loop()
                self._slow = loop.call_later(SLOW_GRACE_S, self._still_slow)
        self._outbox.counters.frames_out += 1

    def send_frame(self, frame: dict[str, Any]) -> None:
        """Encode a frame meant for this socket alone and push it (a few at most: a long
        run of replies goes through :meth:`reply`)."""
        self.push(encode(frame, self.fmt))

    async def reply(self, frame: dict[str, Any]) -> None:
        """Encode a frame meant for this socket alone and push it paced: however many
        replies a burst of requests asks for, the socket is slowed, never cut off."""
        await self.push_paced(encode(frame, self.fmt))

    async def push_paced(self, data: str | bytes) -> None:
        """Push, first waiting while the queue is over half full in frames or in bytes
        (replies and replays to this socket alone: the wait slows only the socket that
        asked)."""
        outbox = self._outbox
        while (
            self.close_code is None
            and self._queue is not None
            and (len(self._queue) >= outbox.limit // 2 or self._bytes >= outbox.max_bytes // 2)
        ):
            await self._wait_room()
        self.push(data)

    def feed(self, data: str | bytes) -> None:
        """Queue re-delivered ``data`` behind everything live; the writer pulls it as the
        socket drains, so it never counts against the bound. Never awaits."""
        if self.close_code is not None:
            return
        if self._outbox._deliveries:
            self._outbox.settle(self)
        if self._backlog is None:
            self._backlog = deque()
        self._backlog.append(data)
        self._outbox.counters.frames_out += 1
        if self._queue is None:  # idle: start the writer on this turn of the loop
            self._queue = deque()
            self._bytes = 0
            self._outbox.schedule(self)

    async def drain_backlog(self, timeout_s: float) -> bool:
        """Wait until the writer has pulled the backlog down to half the queue bound, or
        the socket closed. False if it did neither within ``timeout_s``."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.close_code is None and self.backlog > self._outbox.limit // 2:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await self._wait_room(left)
        return True

    def close(self, code: int) -> None:
        """Drop what is queued, stop the writer and close the socket with ``code``."""
        if self.close_code is not None:
            return
        self.close_code = code
        self._forget()
        writer, self._task = self._task, asyncio.create_task(self._close_socket(code))
        if writer is not None:
            writer.cancel()

    def _overloaded(self, why: str) -> None:
        self._outbox.counters.overloaded += 1
        log.info("connection %s overloaded (%s); closing", self.id, why)
        self.close(CLOSE_OVERLOADED)

    def _still_slow(self) -> None:
        self._slow = None
        if self.close_code is None and self._bytes > self._outbox.max_bytes:
            self._overloaded(f"{self._bytes} bytes unsent for {SLOW_GRACE_S:.0f}s")

    def _forget(self) -> None:
        """Drop everything queued and wake whoever waits for room."""
        self._queue = self._backlog = None
        self._bytes = 0
        if self._slow is not None:
            self._slow.cancel()
            self._slow = None
        self._make_room()

    async def _wait_room(self, timeout_s: float | None = None) -> None:
        if self._room is None:
            self._room = asyncio.get_running_loop().create_future()
        await asyncio.wait([self._room], timeout=timeout_s)

    def _make_room(self) -> None:
        room = self._room
        if room is not None:
            self._room = None
            room.set_result(None)

    def _broken(self, err: Exception) -> None:
        """A send failed: the socket broke under us; the endpoint will notice."""
        log.debug("connection %s: send failed (%s)", self.id, type(err).__name__)
        self.close_code = self.close_code or 1006
        self._forget()

    async def wait_closed(self) -> None:
        """Wait for the writer (or the closing task) to finish."""
        if self._task is not None:
            await asyncio.wait([self._task])

    async def stop(self) -> None:
        """The socket is gone (the endpoint saw a disconnect): stop without closing it."""
        if self.close_code is None:
            self.close_code = 1000
            self._forget()
            if self._task is not None:
                self._task.cancel()
        await self.wait_closed()

    def _write_framed(self, first: Framed) -> bool:
        """Write ``first`` and the run of pre-framed frames behind it (up to
        :data:`WRITE_RUN_BYTES` in all) in one write, straight to the wire. False, with
        nothing written or taken, if the socket has no wire or its wire cannot take even
        ``first`` now (then ``first`` goes through ``_send``, which waits)."""
        wire = self._wire
        if wire is None:
            return False
        run: list[bytes] = [first]
        size = len(first)
        for data in chain(self._queue or (), self._backlog or ()):
            if type(data) is not Framed or size + len(data) > WRITE_RUN_BYTES:
                break
            run.append(data)
            size += len(data)
        if len(run) > 1 and wire.write_frames(b"".join(run)):
            for _ in range(len(run) - 1):
                self._next()
            return True
        return wire.write_frames(first)

    def _next(self) -> str | bytes | None:
        """The next thing to write: live frames first, then re-delivery. Wakes a waiter
        once the queue is under half its bound (and the backlog too)."""
        queue, limit = self._queue, self._outbox.limit
        if queue:
            data = queue.popleft()
            self._bytes -= len(data)
            if self._slow is not None and self._bytes <= self._outbox.max_bytes:
                self._slow.cancel()
                self._slow = None
            if self._room is not None and len(queue) < limit // 2:
                self._make_room()
            return data
        backlog = self._backlog
        if backlog:
            data = backlog.popleft()
            if not backlog:
                self._backlog = None
            if self._room is not None and len(backlog) <= limit // 2:
                self._make_room()
            return data
        return None

    def _drain(self) -> None:
        """Write everything queued, back to back. A send that completes at once (the socket
        can take it) needs no task; the first one that has to wait gets a writer task,
        which finishes it and the rest of the queue."""
        queue = self._queue
        while queue is not None and queue is self._queue:
            data = self._next()
            if data is None:
                break
            try:
                if type(data) is Framed:
                    if self._write_framed(data):
                        continue
                    data = data.payload
                coro = self._send(data)
                waiting = coro.send(None)
            except StopIteration:
                continue
            except Exception as err:
                self._broken(err)
                return
            self._task = asyncio.get_running_loop().create_task(self._write(coro, waiting))
            return
        if queue is not None and self._queue is queue:
            self._queue = None  # idle: nothing queued, no task
        self._make_room()

    async def _write(self, pending: Coroutine[Any, Any, None], waiting: Any) -> None:
        queue = self._queue
        assert queue is not None
        try:
            await _finish(pending, waiting)
            while self._queue is queue:
                data = self._next()
                if data is None:
                    break
                if type(data) is Framed:
                    if self._write_framed(data):
                        continue
                    data = data.payload
                await self._send(data)
        except Exception as err:
            self._broken(err)
            return
        if self._queue is queue:  # drained, and not closed meanwhile: idle again
            self._queue = self._task = None
            self._make_room()

    async def _close_socket(self, code: int) -> None:
        try:
            await self._close(code)
        except Exception as err:
            log.debug("connection %s: close failed (%s)", self.id, type(err).__name__)


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
        as_msgpack: str | bytes | None = None
        as_json: str | bytes | None = None
        for conn in members:
            if conn.fmt == "msgpack":
                if as_msgpack is None:
                    as_msgpack = _framed(self._framer, payload)
                conn.feed(as_msgpack)
                continue
            if as_json is None:
                try:
                    as_json = encode_json(msgpack.unpackb(payload, raw=False))
                except Exception:
                    log.exception("undecodable bus payload on %s", topic)
                    return members
                self.counters.encodes += 1
                as_json = _framed(self._framer, as_json)
            conn.feed(as_json)
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
