"""How uvicorn runs the app: one place for its settings, used by the CLI and the tests."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from web.config import Settings


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


class _Inbox(_Waiters):
    """What uvicorn's WebSocket protocol uses of ``asyncio.Queue``: ``put_nowait``, ``get``
    and ``empty``. An ``asyncio.Queue`` holds four deques, 3 KB on every socket, for events
    that arrive one or two at a time (uvicorn stops reading while one is waiting)."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Any] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake()

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            await self._sleep()
        return self._items.pop(0)


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


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, lighter on every open socket (about 5 KB):

    - its receive queue and ``writable`` event are replaced by :class:`_Inbox` and
      :class:`_Flag`, which do what uvicorn asks of them (it calls nothing else) without
      the asyncio classes' deques;
    - the handshake response, which it keeps but never reads once it has been sent, is let
      go when the handshake completes.

    Written against uvicorn 0.54; the socket tests run every path through it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag(self.writable.is_set())  # type: ignore[assignment]

    def start_keepalive(self) -> None:
        # Called once, right after the accepting response went out.
        self.response = None  # type: ignore[assignment]
        super().start_keepalive()


def uvicorn_config(
    app: Any, settings: Settings, host: str = "0.0.0.0", **kw: Any
) -> uvicorn.Config:
    """uvicorn settings, chosen deliberately:

    - ``ws=WebSocketProtocol``: the sans-I/O websockets protocol (``"websockets-sansio"``),
      slimmed per socket (see :class:`WebSocketProtocol`). The older ``websockets`` backend
      passes a few more conformance cases but builds on the deprecated
      ``websockets.legacy`` and warns on every start; the close-code case it differs on is
      one we never send.
    - ``ws_max_size``: frames over the contract's limit are refused by the protocol layer with
      close 1009 before we ever buffer them.
    - ``ws_per_message_deflate=False``: compression costs CPU per frame per socket and defeats
      encode-once fan-out; our frames are small.
    - ``ws_ping_interval``: protocol-level pings find dead peers even when the client is idle.
    - ``timeout_graceful_shutdown``: on SIGTERM, requests and sockets still busy after
      ``INVIARO_SHUTDOWN_TIMEOUT_S`` are cut (what they had not been answered was never
      acknowledged), so a stalled database cannot hold the process up.
    - ``loop="uvloop"`` and ``http="httptools"`` when installed (uvicorn[standard]): the event
      loop's own overhead is a fifth of a busy hub's CPU, and uvloop's is the smaller one.
    """
    kw.setdefault("loop", "uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
    kw.setdefault("http", "httptools" if importlib.util.find_spec("httptools") else "h11")
    config = uvicorn.Config(
        app,
        host=host,
        port=settings.port,
        ws=WebSocketProtocol,
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.heartbeat_s,
        ws_ping_timeout=settings.heartbeat_s,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
        **kw,
    )
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
    return config


_SECRET_PARAM = re.compile(r"((?:token|access_token|key|hub\.verify_token)=)[^&\s\"']+")


class RedactSecrets(logging.Filter):
    """uvicorn logs request lines with their query string, and a widget socket carries its
    visitor token there: cut every secret-bearing parameter's value before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PARAM.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _SECRET_PARAM.sub(r"\1…", record.msg)
        return True


def uvicorn_server(config: uvicorn.Config) -> uvicorn.Server:
    raise_open_files_limit()
    return uvicorn.Server(config)


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one, as servers do: every socket is a
    file, and the usual soft limit of 1024 would refuse the 1025th. Returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft
