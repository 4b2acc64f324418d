"""One socket as the hub holds it: its format, and only while it has frames to write, a
bounded queue (and a writer task while a send has to wait). :mod:`hub.fanout` files
sockets under topics and writes bus deliveries to them; what it cannot write at once comes
here.

Three ways in, for three kinds of frame:

- :meth:`Connection.push`, live fan-out: never waits; a socket that cannot keep up (its
  queue past the frame bound, or past the byte bound for longer than a grace period) is
  closed with 1013 (the client reconnects and resumes), so one slow socket never delays
  another.
- :meth:`Connection.push_paced`, what one socket asked for (replies, replays): waits while
  the queue is half full, so it slows only the socket that asked and never cuts it.
- :meth:`Connection.feed`, the hub's re-delivery after a bus outage: kept behind the live
  queue and pulled by the socket's writer as it drains, never counted against the bound.

What is pushed to one socket alone (a reply, a replay) is framed here, as the fan-out
frames what it shares, when the registry has a framer and the socket a :class:`Wire`: it is
written straight to the wire too, a run of them in one write.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

from hub.codec import Format, encode
from hub.ids import new_id

if TYPE_CHECKING:
    from hub.fanout import _Outbox

log = logging.getLogger("hub.fanout")  # the fan-out's sockets: one logger for both modules

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


def framed(framer: Framer, data: str | bytes) -> Framed:
    """``data`` with its frame, built by ``framer``."""
    frame = Framed(framer(data))
    frame.payload = data
    return frame


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
        outbox = self._outbox
        if outbox._deliveries:  # this turn's bus deliveries to it go first
            outbox.settle(self)
        if outbox.framer is not None and self._wire is not None:
            data = framed(outbox.framer, data)
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
        return wire.write_frames(bytes(first))  # exact bytes: see _Delivery.frames

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
