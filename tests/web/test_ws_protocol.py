"""What web/ws_protocol.py relies on inside uvicorn and websockets, pinned: an upgrade that
renames or changes any of it fails here, by name, before anything subtler breaks."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import socket

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.server import ServerProtocol

from web.ws_protocol import SEND_BUFFER_BYTES, WebSocketProtocol, _Flag, _Inbox

# uvicorn 0.54's WebSocketsSansIOProtocol.send_receive_event_to_app, which
# WebSocketProtocol replaces whole (to answer invalid UTF-8 without a traceback): if
# uvicorn changes it, read the new one and carry the change over, then update the hash.
UPSTREAM_RECEIVE_SHA256 = "a2b10de91477dc1d4d0e7c9065b85388a5b2a6ebeb84d6ec1591e112ca0bfbb9"


async def _app(scope: object, receive: object, send: object) -> None:
    return None


def _protocol() -> WebSocketProtocol:
    config = uvicorn.Config(app=_app, ws=WebSocketProtocol, log_config=None)
    config.load()
    return WebSocketProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())


def test_the_uvicorn_methods_replaced_or_extended_are_still_there() -> None:
    for name in (
        "connection_made",
        "start_keepalive",
        "send_receive_event_to_app",
        "handle_parser_exception",
    ):
        assert callable(getattr(WebSocketsSansIOProtocol, name, None)), name
    source = inspect.getsource(WebSocketsSansIOProtocol.send_receive_event_to_app)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_RECEIVE_SHA256


async def test_the_uvicorn_attributes_used_are_still_set() -> None:
    protocol = _protocol()
    for name in (
        "queue",
        "writable",
        "conn",
        "config",
        "frames",
        "curr_msg_data_type",
        "close_sent",
        "read_paused",
        "transport",
        "client",
    ):
        assert hasattr(protocol, name), name
    # uvicorn calls only these on its receive queue and writable flag.
    assert isinstance(protocol.queue, _Inbox) and isinstance(protocol.writable, _Flag)
    assert protocol.writable.is_set()


async def test_the_websockets_internals_used_are_still_there() -> None:
    conn = _protocol().conn
    assert isinstance(conn, ServerProtocol)
    assert callable(getattr(ServerProtocol, "recv_frame", None))
    assert callable(getattr(ServerProtocol, "send_close", None))
    for name in ("current_size", "available_extensions", "logger"):
        assert hasattr(conn, name), name
    assert conn.current_size is None


async def test_a_socket_gets_the_small_kernel_send_buffer() -> None:
    left, right = socket.socketpair()
    probe, other = socket.socketpair()
    default = probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    small = probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)  # as the kernel reports it
    probe.close()
    other.close()
    transport, _ = await asyncio.get_running_loop().connect_accepted_socket(_protocol, left)
    try:
        size = transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert size == small != default
    finally:
        transport.abort()
        right.close()
