"""Local sockets, the topics they joined, and fan-out of bus payloads to them.

A payload from the bus is decoded at most once and encoded at most once per wire format;
every socket on the topic gets the very same ``bytes``/``str`` object pushed onto its
bounded queue without awaiting. Each socket's single writer task drains its queue through
the injected ``send``; a socket whose queue overflows is closed with 1013 (the client
reconnects and resumes), so one slow socket never delays another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgpack

from hub.bus import Bus
from hub.codec import Format, encode, encode_json
from hub.ids import new_id

log = logging.getLogger(__name__)

Send = Callable[[str | bytes], Awaitable[None]]
Close = Callable[[int], Awaitable[None]]
DEFAULT_QUEUE_BOUND = 256
CLOSE_OVERLOADED = 1013
CLOSE_RESTARTING = 1012


def workspace_topic(workspace_id: str) -> str:
    """Operators of a workspace: every message, conversation, receipt and presence frame."""
    return f"ws:{workspace_id}"


def conversation_topic(conversation_id: str) -> str:
    """The visitor of one conversation: its messages and operators' typing."""
    return f"conv:{conversation_id}"


@dataclass(slots=True)
class Counters:
    """Plain integers the web layer exports to Prometheus; the hub imports no metrics lib."""

    sockets_open: int = 0
    frames_out: int = 0
    overloaded: int = 0
    encodes: int = 0


class Connection:
    """One socket: its format, its bounded queue and (at most) one task."""

    __slots__ = (
        "_close",
        "_counters",
        "_limit",
        "_queue",
        "_room",
        "_send",
        "_task",
        "_wake",
        "close_code",
        "fmt",
        "id",
        "topics",
    )

    def __init__(
        self,
        fmt: Format,
        send: Send,
        close: Close,
        counters: Counters,
        limit: int = DEFAULT_QUEUE_BOUND,
    ) -> None:
        self.id = new_id("conn_")
        self.fmt: Format = fmt
        self.topics: set[str] = set()
        self.close_code: int | None = None  # set once the connection is closing
        self._send = send
        self._close = close
        self._counters = counters
        self._limit = limit
        self._queue: deque[str | bytes] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None  # a paced pusher waiting for space
        self._task: asyncio.Task[None] = asyncio.create_task(self._write())

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def push(self, data: str | bytes) -> None:
        """Queue ``data`` for the socket; never awaits. Past the bound, close with 1013."""
        if self.close_code is not None:
            return
        if len(self._queue) >= self._limit:
            self._counters.overloaded += 1
            log.info("connection %s overloaded (%d frames queued); closing", self.id, self._limit)
            self.close(CLOSE_OVERLOADED)
            return
        self._queue.append(data)
        self._counters.frames_out += 1
        wake = self._wake
        if wake is not None:
            self._wake = None
            wake.set_result(None)

    def send_frame(self, frame: dict[str, Any]) -> None:
        """Encode a frame meant for this socket alone (a reply) and push it."""
        self.push(encode(frame, self.fmt))

    async def push_paced(self, data: str | bytes) -> None:
        """Push, first waiting while the queue is over half full (long replays to this
        socket alone: the wait slows only the socket that asked)."""
        while self.close_code is None and len(self._queue) >= self._limit // 2:
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            await asyncio.wait([self._room])
        self.push(data)

    def close(self, code: int) -> None:
        """Drop what is queued, stop the writer and close the socket with ``code``."""
        if self.close_code is not None:
            return
        self.close_code = code
        self._queue.clear()
        writer, self._task = self._task, asyncio.create_task(self._close_socket(code))
        writer.cancel()
        self._make_room()

    def _make_room(self) -> None:
        room = self._room
        if room is not None:
            self._room = None
            room.set_result(None)

    async def wait_closed(self) -> None:
        """Wait for the writer (or the closing task) to finish."""
        await asyncio.wait([self._task])

    async def stop(self) -> None:
        """The socket is gone (the endpoint saw a disconnect): stop without closing it."""
        if self.close_code is None:
            self.close_code = 1000
            self._queue.clear()
            self._task.cancel()
            self._make_room()
        await self.wait_closed()

    async def _write(self) -> None:
        queue = self._queue
        try:
            while True:
                if not queue:
                    self._wake = asyncio.get_running_loop().create_future()
                    await self._wake
                while queue:  # everything queued meanwhile, in one wake-up
                    await self._send(queue.popleft())
                    if self._room is not None and len(queue) < self._limit // 2:
                        self._make_room()
        except Exception as err:  # the socket broke under us; the endpoint will notice
            log.debug("connection %s: send failed (%s)", self.id, type(err).__name__)
            self.close_code = self.close_code or 1006
            queue.clear()
            self._make_room()

    async def _close_socket(self, code: int) -> None:
        try:
            await self._close(code)
        except Exception as err:
            log.debug("connection %s: close failed (%s)", self.id, type(err).__name__)


class Registry:
    """topic → local connections, with the bus subscribed while a topic has any."""

    def __init__(self, bus: Bus, queue_bound: int = DEFAULT_QUEUE_BOUND) -> None:
        self.bus = bus
        self.counters = Counters()
        self._queue_bound = queue_bound
        self._topics: dict[str, set[Connection]] = {}
        self._conns: set[Connection] = set()

    def connect(self, fmt: Format, send: Send, close: Close) -> Connection:
        """Register a new socket (call inside the endpoint, after the handshake)."""
        conn = Connection(fmt, send, close, self.counters, self._queue_bound)
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
        conn.topics.add(topic)
        members = self._topics.get(topic)
        if members is None:
            self._topics[topic] = {conn}
            await self.bus.subscribe(topic)
        else:
            members.add(conn)

    async def leave(self, conn: Connection, topic: str) -> None:
        """Remove ``conn`` from ``topic``; the last local member unsubscribes the bus."""
        if topic not in conn.topics:
            return
        conn.topics.discard(topic)
        members = self._topics.get(topic)
        if members is not None:
            members.discard(conn)
            if not members:
                del self._topics[topic]
                await self.bus.unsubscribe(topic)

    async def leave_all(self, conn: Connection) -> None:
        for topic in list(conn.topics):
            await self.leave(conn, topic)

    def topics(self) -> list[str]:
        """Topics with at least one local connection."""
        return list(self._topics)

    def deliver(self, topic: str, payload: bytes) -> None:
        """The bus handler: push a msgpack-encoded frame to every local socket on ``topic``."""
        members = self._topics.get(topic)
        if not members:
            return
        as_json: str | None = None
        for conn in members:
            if conn.fmt == "msgpack":
                conn.push(payload)
                continue
            if as_json is None:
                try:
                    as_json = encode_json(msgpack.unpackb(payload, raw=False))
                except Exception:
                    log.exception("undecodable bus payload on %s", topic)
                    return
                self.counters.encodes += 1
            conn.push(as_json)

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
