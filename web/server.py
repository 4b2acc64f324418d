"""How uvicorn runs the app: one place for its settings, used by the CLI and the tests."""

from __future__ import annotations

import gc
import importlib.util
import logging
import re
import resource
from typing import Any

import uvicorn

from web.config import Settings
from web.ws_protocol import WebSocketProtocol


def uvicorn_config(
    app: Any, settings: Settings, host: str = "0.0.0.0", **kw: Any
) -> uvicorn.Config:
    """uvicorn settings, chosen deliberately:

    - ``ws=WebSocketProtocol``: the sans-I/O websockets protocol (``"websockets-sansio"``),
      slimmed per socket, with a small kernel send buffer and two conformance fixes (see
      :mod:`web.ws_protocol`). The older ``websockets`` backend builds on the deprecated
      ``websockets.legacy`` and warns on every start.
    - ``ws_max_size``: frames over the contract's limit are refused by the protocol layer with
      close 1009 before we ever buffer them.
    - ``ws_per_message_deflate=False``: compression costs CPU per frame per socket and defeats
      encode-once fan-out; our frames are small.
    - ``ws_ping_interval``: protocol-level pings find dead peers even when the client is idle.
    - ``forwarded_allow_ips``: ``X-Forwarded-For`` names the client only when it comes from
      ``INVIARO_TRUSTED_PROXIES`` (the load balancer), so rate limits see real addresses.
    - ``timeout_graceful_shutdown``: on SIGTERM, requests and sockets still busy after
      ``INVIARO_SHUTDOWN_TIMEOUT_S`` are cut (what they had not been answered was never
      acknowledged), so a stalled database cannot hold the process up.
    - ``loop="uvloop"`` and ``http="httptools"`` when installed (uvicorn[standard]): the event
      loop's own overhead is a fifth of a busy hub's CPU, and uvloop's is the smaller one.
    - ``access_log=False`` unless asked for (``inviaro serve --access-log``): a request line
      at info level costs about 23 µs of CPU per request (and a write), 4% of an ingest
      request; even below info uvicorn builds its arguments for every answer. The per-door
      latency histogram and the load balancer's own log say what it did.
    """
    kw.setdefault("access_log", False)
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
        forwarded_allow_ips=settings.trusted_proxies,
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


def uvicorn_server(config: uvicorn.Config, *, settle: bool = False) -> uvicorn.Server:
    """The server; with ``settle`` (``inviaro serve``; not a test process, which starts
    many apps and must not freeze their garbage) the heap is settled first (:func:`settle_heap`)."""
    raise_open_files_limit()
    if settle:
        settle_heap()
    return uvicorn.Server(config)


YOUNG_GC_THRESHOLD = 10_000


def settle_heap() -> None:
    """Tune the cyclic garbage collector for a process that has finished starting.

    What start-up built (modules, the app and its routes, SQLAlchemy's mappers: about
    140,000 objects, all kept for the process's life) is frozen out of the collector's
    sight, so a full collection no longer walks it: under C' (1,000 one-message ingest
    requests a second) a full collection came every 2 seconds and paused the event loop
    for 60 to 240 ms on a quiet machine, so no p99 under 50 ms was possible. The youngest
    generation is collected after 10,000 net allocations instead of 700: a busy hub holds
    thousands of young objects in flight (every request's frames and futures), and at 700
    it walked them some 120 times a second to find almost nothing. Together the
    collector's CPU fell from 100-130 µs per request to under 5, and no full collection
    ran in 8 s at 1,000 requests a second (issue 20, branch h/door).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one, as servers do: every socket is a
    file, and the usual soft limit of 1024 would refuse the 1025th. Returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft
