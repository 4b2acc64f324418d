"""What web/ws_protocol.py relies on inside uvicorn and websockets, pinned: an upgrade that
renames or changes any of it fails here, by name, before anything subtler breaks."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import re
import socket
import textwrap

import pytest
import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from web.ws_protocol import SEND_BUFFER_BYTES, WebSocketProtocol, _Flag, _Inbox

# uvicorn 0.54's (and 0.55's) WebSocketsSansIOProtocol.send_receive_event_to_app, which
# WebSocketProtocol replaces whole (to answer invalid UTF-8 without a traceback): if
# uvicorn changes it, read the new one and carry the change over, then update the hash.
UPSTREAM_RECEIVE_SHA256 = "a2b10de91477dc1d4d0e7c9065b85388a5b2a6ebeb84d6ec1591e112ca0bfbb9"
# uvicorn 0.55's WebSocketsSansIOProtocol.send, against which WebSocketProtocol's pre-framed
# fast path (write_frames) was checked: it writes a frame at once exactly when write_frames
# would. If uvicorn changes it, check that again, then the hash.
UPSTREAM_SEND_SHA256 = "3b8afeb81b9b9ae8bb72df7cea930130317636d1de3f86b7c4d3113c64f749d5"
# Its schedule_ping too, which WebSocketProtocol replaces to file the ping in _Pings.
UPSTREAM_SCHEDULE_PING_SHA256 = "002da2050fd252243efd25303d85b1e6ec1c0d0d4e7f049fe3299608e05ab38e"


async def _app(scope: object, receive: object, send: object) -> None:
    return None


def _protocol() -> WebSocketProtocol:
    config = uvicorn.Config(app=_app, ws=WebSocketProtocol, log_config=None)
    config.load()
    return WebSocketProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())


def test_the_uvicorn_methods_replaced_or_extended_are_still_there() -> None:
    for name in (
        "connection_made",
        "connection_lost",
        "handle_connect",
        "start_keepalive",
        "send_receive_event_to_app",
        "handle_parser_exception",
        "schedule_ping",
        "send_keepalive_ping",
    ):
        assert callable(getattr(WebSocketsSansIOProtocol, name, None)), name
    source = inspect.getsource(WebSocketsSansIOProtocol.send_receive_event_to_app)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_RECEIVE_SHA256
    source = inspect.getsource(WebSocketsSansIOProtocol.schedule_ping)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_SCHEDULE_PING_SHA256


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


def test_uvicorn_send_is_the_one_the_preframed_fast_path_was_checked_against() -> None:
    source = inspect.getsource(WebSocketsSansIOProtocol.send)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_SEND_SHA256


async def test_what_the_preframed_fast_path_reads_is_still_there() -> None:
    protocol = _protocol()
    for name in ("writable", "close_sent", "disconnected", "transport"):
        assert hasattr(protocol, name), name
    # websockets' state gates every send (OPEN only), its pending output is a list that
    # uvicorn empties after each call, and its negotiated extensions are a list too.
    conn = protocol.conn
    assert conn.state is State.CONNECTING and conn.writes == [] and conn.extensions == []
    # The fast path reads the state property's own attribute (a call less per socket).
    assert inspect.getsource(type(conn).state.fget).rstrip().endswith("return self._state")
    assert conn._state is conn.state
    assert not protocol.write_frames(b"\x81\x00")  # no handshake yet


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


def _methods() -> dict[str, str]:
    """uvicorn's protocol methods by name, as source text normalised by ``ast``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(WebSocketsSansIOProtocol)))
    [cls] = tree.body
    assert isinstance(cls, ast.ClassDef)
    return {
        n.name: ast.unparse(n)
        for n in cls.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_uvicorn_uses_only_the_queue_and_flag_methods_our_slim_ones_have() -> None:
    # _Inbox and _Flag stand in for asyncio.Queue and asyncio.Event: a call to anything
    # else on them would fail only at run time, on some rare path; and both are made once,
    # in __init__, where WebSocketProtocol replaces them.
    source = "\n".join(_methods().values())
    assert set(re.findall(r"self\.queue\.(\w+)", source)) <= {"put_nowait", "get", "empty"}
    assert set(re.findall(r"self\.writable\.(\w+)", source)) <= {"set", "clear", "is_set", "wait"}
    for name, text in _methods().items():
        if name != "__init__":
            assert not re.search(r"self\.(queue|writable)(: [^=]+)? = ", text), name


def test_uvicorn_builds_its_websockets_protocol_with_only_the_options_we_carry_over() -> None:
    # WebSocketProtocol builds its own _ServerProtocol from uvicorn's: an option uvicorn
    # started passing would be dropped silently.
    init = ast.parse(_methods()["__init__"])
    [call] = [
        n
        for n in ast.walk(init)
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "ServerProtocol"
    ]
    assert {k.arg for k in call.keywords} == {"extensions", "max_size", "logger"}
    assert not call.args


def test_uvicorn_reads_the_handshake_response_only_before_start_keepalive() -> None:
    # WebSocketProtocol.start_keepalive lets the response go; nothing may read it after.
    methods = _methods()
    users = sorted(name for name, text in methods.items() if "self.response" in text)
    assert users == ["handle_connect", "send"]
    assert "start_keepalive" not in methods["handle_connect"]
    send = methods["send"]
    assert send.count("self.start_keepalive()") == 1
    assert send.rindex("self.response") < send.index("self.start_keepalive()")


def test_every_attribute_uvicorn_sets_has_a_slot() -> None:
    # One left out would bring back the per-socket instance dict the slots save.
    source = "\n".join(_methods().values())
    assigned = set(re.findall(r"self\.(\w+)(?:: [^=\n]+)? = ", source))
    assert assigned <= set(WebSocketProtocol.__slots__), assigned - set(WebSocketProtocol.__slots__)


async def test_a_protocol_has_no_instance_dict() -> None:
    assert vars(_protocol()) == {}


def test_uvicorn_reads_the_handshake_request_only_in_handle_connect() -> None:
    # WebSocketProtocol.start_keepalive empties the request's headers; nothing may read them after.
    users = sorted(name for name, text in _methods().items() if "self.request" in text)
    assert users == ["handle_connect"]


async def test_the_handshake_request_headers_are_let_go_once_answered() -> None:
    protocol = _protocol()
    protocol.request = Request("/ws/operator", Headers({"Host": "example.com"}))
    protocol.ping_interval = None  # no keepalive timer for this test
    protocol.start_keepalive()
    assert not protocol.request.headers


async def test_sockets_of_one_listener_share_the_address_tuple_and_client_host() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    transports = []
    peers = []
    try:
        protocols = [_protocol(), _protocol()]
        for protocol in protocols:
            peer = socket.create_connection(("127.0.0.1", port))
            accepted, _ = listener.accept()
            peers += [peer, accepted]
            transport, _ = await asyncio.get_running_loop().connect_accepted_socket(
                lambda p=protocol: p, accepted
            )
            transports.append(transport)
        first, second = protocols
        assert first.server is second.server
        assert first.client is not None and second.client is not None
        assert first.client[0] is second.client[0]
    finally:
        for transport in transports:
            transport.abort()
        for peer in peers:
            peer.close()
        listener.close()


def test_uvicorn_awaits_every_get_from_its_receive_queue() -> None:
    # _Inbox.get hands back a future, which is only of use awaited.
    source = "\n".join(_methods().values())
    assert source.count("self.queue.get()") == source.count("await self.queue.get()") >= 1


async def test_an_item_put_before_a_get_is_got_at_once() -> None:
    inbox = _Inbox()
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    assert [await inbox.get(), await inbox.get()] == ["a", "b"]
    assert inbox.empty()


async def test_a_waiting_get_gets_the_next_item_put() -> None:
    inbox = _Inbox()
    got = inbox.get()
    inbox.put_nowait("a")
    assert await got == "a"
    assert inbox.empty()


async def test_a_cancelled_get_leaves_the_next_item_to_the_next_get() -> None:
    inbox = _Inbox()
    inbox.get().cancel()
    inbox.put_nowait("a")
    assert await inbox.get() == "a"


async def test_a_second_get_while_one_waits_is_refused() -> None:
    inbox = _Inbox()
    inbox.get()
    with pytest.raises(RuntimeError, match="still waiting"):
        inbox.get()


def test_uvicorn_only_cancels_a_ping_timer_and_sets_one_only_in_schedule_ping() -> None:
    # A _Ping stands in for the loop timer uvicorn would keep in ping_timer: it has cancel.
    methods = _methods()
    source = "\n".join(methods.values())
    assert set(re.findall(r"self\.ping_timer\.(\w+)", source)) == {"cancel"}
    setters = sorted(n for n, t in methods.items() if re.search(r"self\.ping_timer = (?!None)", t))
    assert setters == ["schedule_ping"]
