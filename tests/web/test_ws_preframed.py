"""Pre-framed fan-out over a real uvicorn (the hub's protocol) to a real websockets client:
every length class of text and binary frame decodes to exactly what was sent, the frames
really took the fast path, and they keep their order with frames sent the normal way."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgpack
import pytest
import uvicorn
import uvloop
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from hub.bus import MemoryBus
from hub.codec import Format, encode_json
from hub.fanout import Connection, Registry, Wire
from tests.conftest import LiveServer, free_port
from tests.helpers import new_client, signup
from tests.web.realtime import close_all_sockets, operator_socket
from tests.web.test_ws_protocol import _protocol
from web.ws import _Out, _wire
from web.ws_frames import server_frame
from web.ws_protocol import WIRE, WebSocketProtocol

TOPIC = "ws:w"
WAIT_S = 20.0  # a failure guard only, never a timing assertion
LENGTHS = [0, 125, 126, 65535, 65536]  # each edge of the 7-, 16- and 64-bit length classes


class _CountedWire:
    """The protocol's wire, counting the writes that took the fast path."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.writes = 0

    def write_frames(self, frames: bytes) -> bool:
        written = self.wire.write_frames(frames)
        self.writes += written
        return written


class _Room:
    """Files each socket in a Registry with the web layer's framer and the server's wire,
    as ``web.ws`` does, then reads until the socket goes."""

    def __init__(self, fmt: Format) -> None:
        self.fmt = fmt
        self.registry = Registry(MemoryBus(lambda topic, payload: None), framer=server_frame)
        self.wire: _CountedWire | None = None
        self.scope: Scope | None = None
        self.conn: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        self.scope = scope
        wire = _wire(scope)
        assert wire is not None, "the hub's protocol offers its wire in the scope"
        self.wire = _CountedWire(wire)
        out = _Out(send)
        conn = self.registry.connect(self.fmt, out.send, out.close, self.wire)
        await self.registry.join(conn, TOPIC)
        self.conn.set_result(conn)
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            await self.registry.disconnect(conn)


@asynccontextmanager
async def _client(room: _Room) -> AsyncIterator[websockets.ClientConnection]:
    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=[WebSocketRoute("/ws", room)]),
        host="127.0.0.1",
        port=port,
        ws=WebSocketProtocol,
        ws_per_message_deflate=False,
        log_config=None,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as client:
            await asyncio.wait_for(room.conn, WAIT_S)
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, WAIT_S)


def _frame_of(size: int) -> dict[str, str]:
    """A frame whose JSON encoding is ``size`` bytes of UTF-8 (10 or more), one character of
    it two bytes long (so a frame's length must count bytes, not characters)."""
    return {"t": "é" + "x" * (size - 10)}  # {"t":"é…"}: 8 bytes around, é is 2


@pytest.mark.parametrize("size", LENGTHS[1:])
async def test_a_preframed_text_frame_decodes_to_the_text_sent(size: int) -> None:
    room = _Room("json")
    frame = _frame_of(size)
    async with _client(room) as client:
        room.registry.deliver(TOPIC, msgpack.packb(frame))
        received = await asyncio.wait_for(client.recv(), WAIT_S)
        assert received == encode_json(frame) and len(received.encode()) == size
        assert room.wire is not None and room.wire.writes == 1


@pytest.mark.parametrize("size", LENGTHS)
async def test_a_preframed_binary_frame_decodes_to_the_bytes_sent(size: int) -> None:
    room = _Room("msgpack")
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    async with _client(room) as client:
        room.registry.deliver(TOPIC, data)  # a msgpack socket gets bus payloads as they are
        assert await asyncio.wait_for(client.recv(), WAIT_S) == data
        assert room.wire is not None and room.wire.writes == 1


@pytest.mark.parametrize("size", LENGTHS)
@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
def test_a_preframed_frame_is_byte_for_byte_what_websockets_would_write(
    size: int, opcode: Opcode
) -> None:
    data = b"x" * size
    expected = Frame(opcode, data).serialize(mask=False, extensions=[])
    assert server_frame(data.decode() if opcode is Opcode.TEXT else data) == expected


async def test_a_reply_is_framed_too_and_keeps_its_place_among_fan_out_frames() -> None:
    room = _Room("msgpack")
    async with _client(room) as client:
        conn = room.conn.result()
        room.registry.deliver(TOPIC, b"1")
        conn.push(b"2")  # a frame for this socket alone (a reply)
        room.registry.deliver(TOPIC, b"3")
        room.registry.deliver(TOPIC, b"4")
        received = [await asyncio.wait_for(client.recv(), WAIT_S) for _ in range(4)]
        assert received == [b"1", b"2", b"3", b"4"]
        assert room.wire is not None and room.wire.writes == 1  # all four: one run


async def test_the_protocol_takes_its_wire_back_from_the_scope_once_the_socket_is_gone() -> None:
    room = _Room("msgpack")
    async with _client(room):
        assert room.scope is not None and WIRE in room.scope["extensions"]
    assert WIRE not in room.scope["extensions"]  # no protocol-scope cycle left behind


def test_a_server_that_offers_no_wire_leaves_every_frame_to_send() -> None:
    assert _wire({"type": "websocket", "extensions": {"websocket.http.response": {}}}) is None
    assert _wire({"type": "websocket"}) is None


async def test_the_apps_operator_sockets_get_fan_out_through_the_fast_path(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[bytes] = []
    write_frames = WebSocketProtocol.write_frames

    def counted(protocol: WebSocketProtocol, frames: bytes) -> bool:
        if not write_frames(protocol, frames):
            return False
        written.append(frames)
        return True

    monkeypatch.setattr(WebSocketProtocol, "write_frames", counted)
    async with new_client(live.url) as client:
        owner = await signup(client)
        ingest = (await owner.post("/api/channels", {"kind": "custom", "name": "Feed"})).json()
        operator = await operator_socket(owner, live.ws_url)
        response = await client.post(
            f"/api/ingest/{ingest['id']}",
            json={
                "messages": [{"external_id": "e1", "contact": {"external_id": "c"}, "text": "hi"}]
            },
            headers={"Authorization": f"Bearer {ingest['ingest_token']}"},
        )
        assert response.status_code == 202, response.text
        [message] = await operator.messages(1)
        assert message["text"] == "hi"
        assert any(b'"text":"hi"' in frames for frames in written)
        await close_all_sockets()


class _Transport:
    """What ``write_frames`` asks of a transport, holding ``held`` unsent bytes under a
    64 KiB high-water mark."""

    HIGH = 64 * 1024

    def __init__(self, held: int) -> None:
        self.held = held
        self.written: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.held

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return 16 * 1024, self.HIGH

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self.held += len(data)


def _open_protocol(transport: _Transport) -> WebSocketProtocol:
    """A protocol past its handshake, writable, on ``transport``."""
    protocol = _protocol()
    protocol.transport = transport  # type: ignore[assignment]
    protocol.conn.state = State.OPEN
    return protocol


async def test_frames_that_would_take_the_transport_past_its_high_water_mark_are_refused() -> None:
    transport = _Transport(held=_Transport.HIGH - 1024)
    assert not _open_protocol(transport).write_frames(b"x" * 2048)
    assert transport.written == []  # left to uvicorn's send, which waits for the drain


async def test_frames_that_fit_under_the_high_water_mark_are_written() -> None:
    transport = _Transport(held=_Transport.HIGH - 4096)
    assert _open_protocol(transport).write_frames(b"x" * 4096)
    assert transport.written == [b"x" * 4096]


async def test_an_empty_transport_takes_frames_larger_than_its_high_water_mark() -> None:
    transport = _Transport(held=0)  # what uvicorn's send would write at once as well
    assert _open_protocol(transport).write_frames(b"x" * (2 * _Transport.HIGH))
    assert transport.held == 2 * _Transport.HIGH


def _uvloop_method(name: str) -> str:
    """The Cython source of one ``UVStream`` method, as the uvloop wheel ships it."""
    source = (Path(uvloop.__file__).parent / "handles" / "stream.pyx").read_text()
    found = re.search(rf"\n    cdef [^\n]*\b{name}\(.*?(?=\n    (?:cdef|cpdef|def) )", source, re.S)
    assert found, f"uvloop's UVStream.{name} is gone"
    return found.group(0)


def test_uvloop_writes_exact_bytes_as_they_are_and_wraps_anything_else() -> None:
    # Why fan-out hands its wire exact bytes (hub.fanout._Delivery.frames and
    # Connection._write_framed), never a Framed: uvloop's write wraps any other buffer in
    # two memoryviews and takes its buffer again for the syscall, on every socket.
    buffer_write = _uvloop_method("_buffer_write")
    assert "if not PyBytes_CheckExact(data):" in buffer_write
    assert "memoryview(data)" in buffer_write
    try_write = _uvloop_method("_try_write")
    assert "if PyBytes_CheckExact(data):" in try_write
    assert "PyObject_GetBuffer" in try_write
