"""uvicorn's sans-I/O WebSocket protocol as the hub runs it: the one module that relies on
uvicorn's and websockets' internals (``uvicorn>=0.54,<0.56``; ``tests/web/test_ws_protocol.py``
pins every attribute and upstream behaviour used here, so an upgrade fails there first).

What it buys, per socket:

- about 5 KB less memory: uvicorn's receive queue and ``writable`` event are replaced by
  :class:`_Inbox` and :class:`_Flag`, and the handshake response is let go once sent;
- about 5 KB more (issue 20): uvicorn's attributes live in slots instead of a 40-key
  dict, the handshake request's headers are let go once answered (websockets' parser
  keeps the request itself for the socket's life), the server's address and the client's
  host are shared between sockets, an idle reader waits on one future (``_Inbox.get``)
  and the next keepalive ping waits in :class:`_Pings` instead of a loop timer;
- a small kernel send buffer (:data:`SEND_BUFFER_BYTES`), so what a reader has not taken
  backs up where the hub's per-socket bound can see it (``hub.fanout``) instead of in up
  to 4 MiB of kernel buffer: a reader that stops reading is cut off with 1013 in seconds;
- a fast path for fan-out: frames built once per payload (:mod:`web.ws_frames`) are
  written straight to the transport (:meth:`WebSocketProtocol.write_frames`, offered to
  the app in the scope as :data:`WIRE`) whenever the normal ``send`` would write at once,
  so a delivery skips the ASGI message, websockets' framing and the per-frame coroutines;
- two conformance fixes: a close frame in the middle of a fragmented message closes
  cleanly (RFC 6455 5.4 lets control frames come between fragments; Autobahn 7.1.5), and
  invalid UTF-8 in a text frame closes with 1007 and a debug line, not a traceback per
  frame at error level (anyone can send one).
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import weakref
from sys import intern
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

log = logging.getLogger("inviaro.ws")
_OPEN = State.OPEN

# Asked of the kernel per socket (Linux doubles it for its own bookkeeping): enough for a
# healthy reader's bursts, small beside the hub's 1 MiB bound.
SEND_BUFFER_BYTES = 128 * 1024
# Where a socket's scope offers its protocol as a ``hub.fanout.Wire`` (ASGI servers list what
# they add in ``scope["extensions"]``): absent under any other server or the TestClient.
WIRE = "inviaro.wire"

# The addresses this process listens on, one tuple each for all their sockets.
_ADDRESSES: dict[tuple[str, int | None], tuple[str, int | None]] = {}


class _Waiters:
    """Futures parked until :meth:`_wake`; no container at all while nobody waits."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _sleep(self) -> None:
        """Wait for the next :meth:`_wake` (or a cancellation)."""
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)  # cancelled before it was woken

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)


class _Inbox:
    """What uvicorn's WebSocket protocol uses of ``asyncio.Queue``: ``put_nowait``, ``get``
    and ``empty``. An ``asyncio.Queue`` holds four deques, 3 KB on every socket, for events
    that arrive one or two at a time (uvicorn stops reading while one is waiting). ``get``
    hands back a future, not a coroutine: an idle socket's reader waits on that alone
    instead of on two more coroutine frames."""

    __slots__ = ("_getter", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getter: asyncio.Future[Any] | None = None

    def put_nowait(self, item: Any) -> None:
        getter, self._getter = self._getter, None
        if getter is not None and not getter.done():  # a cancelled getter takes nothing
            getter.set_result(item)
        else:
            self._items.append(item)

    def empty(self) -> bool:
        return not self._items

    def get(self) -> asyncio.Future[Any]:
        """The next item, as a future to await (one reader at a time, as ASGI has it)."""
        if self._getter is not None and not self._getter.done():
            raise RuntimeError("_Inbox.get called while an earlier get is still waiting")
        future = asyncio.get_running_loop().create_future()
        if self._items:
            future.set_result(self._items.pop(0))
        else:
            self._getter = future
        return future


class _Flag(_Waiters):
    """What uvicorn's WebSocket protocol uses of ``asyncio.Event`` for its ``writable`` flag:
    ``set``, ``clear``, ``is_set`` and ``wait``, without an empty 760-byte deque per socket."""

    __slots__ = ("_set",)

    def __init__(self, value: bool) -> None:
        super().__init__()
        self._set = value

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        self._wake()

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            await self._sleep()
        return True


class _Ping:
    """One socket's next keepalive ping, as :class:`_Pings` keeps it: what uvicorn's
    ``ping_timer`` is used for (``cancel``) without a loop timer of its own."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: WebSocketProtocol) -> None:
        self.protocol: WebSocketProtocol | None = protocol

    def cancel(self) -> None:
        self.protocol = None


class _Pings:
    """The keepalive pings due on one event loop, one loop timer per second that has any.

    uvicorn gives every socket a loop timer of its own for its next ping (0.7 KB: a timer
    handle, the loop's timer, its context and a bound method, all idle for 25 s); here a
    socket's ping waits in its second's list, and goes out up to a second late."""

    __slots__ = ("__weakref__", "_due", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[int, list[_Ping]] = {}

    def after(self, delay: float, protocol: WebSocketProtocol) -> _Ping:
        second = math.ceil(self._loop.time() + delay)
        ping = _Ping(protocol)
        due = self._due.get(second)
        if due is None:
            due = self._due[second] = []
            self._loop.call_at(second, self._send, second)
        due.append(ping)
        return ping

    def _send(self, second: int) -> None:
        for ping in self._due.pop(second):
            protocol, ping.protocol = ping.protocol, None
            if protocol is None:
                continue  # cancelled
            try:
                protocol.send_keepalive_ping()
            except Exception:  # what the loop would do with its own timer's error
                log.exception("keepalive ping to %s failed", protocol.client)
        if not self._due:
            _PINGS.pop(self._loop, None)


# The pings of each event loop (an entry goes with its loop's last pending ping), held weakly
# both ways: a loop's own timers keep its _Pings alive while it has pings pending, so a loop
# closed with pings pending (a test's) is let go with them instead of kept here for good.
_PINGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.ref[_Pings]] = (
    weakref.WeakKeyDictionary()
)


def _pings(loop: asyncio.AbstractEventLoop) -> _Pings:
    ref = _PINGS.get(loop)
    pings = ref() if ref is not None else None
    if pings is None:
        pings = _Pings(loop)
        _PINGS[loop] = weakref.ref(pings)
    return pings


class _ServerProtocol(ServerProtocol):
    """websockets' server side, except that a close frame between the fragments of a
    message closes the connection normally instead of failing it with 1002: the
    unfinished message is dropped, as everything after a close frame is."""

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE:
            self.current_size = None  # no fragmented message in progress any more
        super().recv_frame(frame)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, slimmed and fixed (see the module docstring).

    Written against uvicorn 0.54 (checked on 0.55) and websockets 17; the socket tests run
    every path through it.
    """

    # Every attribute uvicorn's protocol sets (the pin checks it): with slots, no instance
    # dict is ever made, and a 40-key one is 1.3 KB per socket.
    __slots__ = (
        "app",
        "app_state",
        "asgi_version",
        "client",
        "close_sent",
        "close_timeout",
        "close_timer",
        "config",
        "conn",
        "connections",
        "curr_msg_data_type",
        "default_headers",
        "disconnected",
        "frames",
        "handshake_complete",
        "handshake_initiated",
        "initial_response",
        "last_ping_rtt",
        "logger",
        "loop",
        "pending_ping_payload",
        "ping_interval",
        "ping_sent_at",
        "ping_timeout",
        "ping_timer",
        "pong_timer",
        "queue",
        "read_paused",
        "request",
        "response",
        "root_path",
        "scheme",
        "scope",
        "server",
        "tasks",
        "transport",
        "writable",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag(self.writable.is_set())  # type: ignore[assignment]
        self.conn = _ServerProtocol(
            extensions=self.conn.available_extensions,
            max_size=self.config.ws_max_size,
            logger=self.conn.logger,
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.server is not None:  # the same for every socket of a listener
            self.server = _ADDRESSES.setdefault(self.server, self.server)
        if self.client is not None:  # many sockets come from one address (a proxy's)
            self.client = (intern(self.client[0]), self.client[1])
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            except OSError as err:  # not every transport's socket takes it; keep going
                log.debug("SO_SNDBUF not set: %s", err)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # set only when the app is to run
        if scope is not None:
            scope["extensions"][WIRE] = self

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"].pop(WIRE, None)  # no cycle left

    def write_frames(self, frames: bytes) -> bool:
        """Write complete server frames if uvicorn's ``send`` would write a frame at once:
        the handshake done and no close sent or received (websockets' state), the transport
        under its high-water mark (``writable``; otherwise ``send`` waits, and the hub's
        bound sees the backlog), nothing of websockets' own waiting to go first, and no
        extension (compression) that would make this socket's frames differ from the shared
        ones. The frames must also fit under that mark, unless the transport holds nothing
        (then they are what ``send`` would write anyway). False, nothing written, otherwise.
        """
        conn = self.conn
        transport = self.transport
        if (
            not self.writable._set  # type: ignore[attr-defined]  # our _Flag's, not a call
            or self.close_sent
            or self.disconnected
            or conn._state is not _OPEN  # the property's own value, without its call
            or conn.writes
            or conn.extensions
            or transport.is_closing()
        ):
            return False
        held = transport.get_write_buffer_size()
        if held and held + len(frames) > transport.get_write_buffer_limits()[1]:
            return False
        transport.write(frames)
        return True

    def start_keepalive(self) -> None:
        # Called once, right after the accepting response went out. The request stays
        # referenced by websockets' parser for the socket's life: empty it instead.
        self.response = None  # type: ignore[assignment]
        self.request.headers = Headers()
        super().start_keepalive()

    def schedule_ping(self) -> None:
        # uvicorn's own, but the timer is a place in the loop's _Pings.
        assert self.ping_interval is not None
        delay = max(0.0, self.ping_interval - self.last_ping_rtt)
        self.ping_timer = _pings(self.loop).after(delay, self)  # type: ignore[assignment]

    def send_receive_event_to_app(self) -> None:
        # uvicorn's own, but invalid UTF-8 is the client's error: 1007 and a debug line.
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past our close: discarded, so reads go on until the peer's close
        if self.curr_msg_data_type == "text":
            try:
                text = data.decode()
            except UnicodeDecodeError:
                log.debug("invalid UTF-8 in a text frame from %s; closing with 1007", self.client)
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
            self.queue.put_nowait({"type": "websocket.receive", "text": text})
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
