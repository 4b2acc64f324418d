"""How uvicorn runs the app: one place for its settings, used by the CLI and the tests."""

from __future__ import annotations

from typing import Any

import uvicorn

from web.config import Settings


def uvicorn_config(
    app: Any, settings: Settings, host: str = "0.0.0.0", **kw: Any
) -> uvicorn.Config:
    """uvicorn settings, chosen deliberately:

    - ``ws="websockets-sansio"``: the sans-I/O websockets protocol. The older ``websockets``
      backend passes a few more conformance cases but builds on the deprecated
      ``websockets.legacy`` and warns on every start; the close-code case it differs on is
      one we never send.
    - ``ws_max_size``: frames over the contract's limit are refused by the protocol layer with
      close 1009 before we ever buffer them.
    - ``ws_per_message_deflate=False``: compression costs CPU per frame per socket and defeats
      encode-once fan-out; our frames are small.
    - ``ws_ping_interval``: protocol-level pings find dead peers even when the client is idle.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.heartbeat_s,
        ws_ping_timeout=settings.heartbeat_s,
        proxy_headers=True,
        server_header=False,
        **kw,
    )


def uvicorn_server(config: uvicorn.Config) -> uvicorn.Server:
    return uvicorn.Server(config)
