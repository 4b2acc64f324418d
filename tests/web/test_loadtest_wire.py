"""The load generator's own WebSocket client (``web.loadtest_wire``) against real servers:
the hub for what it sends and accepts, and the ``websockets`` server for the RFC's corners
the hub never shows (64-bit lengths, fragments, pings on demand, any close code)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from tests.conftest import LiveServer
from tests.helpers import api_token, new_client, signup
from tests.web.realtime import ORIGIN, visitor_session, widget_channel
from web.loadtest_clients import Stats, _hub_deliveries, _sio_deliveries, stamp
from web.loadtest_wire import HandshakeError, WireSocket, connect

TIMEOUT = 10.0


async def within(awaitable: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(awaitable, TIMEOUT)


async def frames(ws: WireSocket, count: int) -> list[dict[str, Any]]:
    return [orjson.loads(await within(ws.recv())) for _ in range(count)]


async def until(ws: WireSocket, kind: str) -> dict[str, Any]:
    while (frame := orjson.loads(await within(ws.recv())))["type"] != kind:
        pass
    return dict(frame)


# --- against the hub ---------------------------------------------------------------------


@pytest.fixture
async def visitor(live: LiveServer) -> AsyncIterator[WireSocket]:
    async with new_client(live.url) as client:
        owner = await signup(client)
        session = await visitor_session(owner, await widget_channel(owner))
    ws = await connect(session["ws_url"], {"Origin": ORIGIN})
    yield ws
    await ws.close()


async def test_the_hub_accepts_the_handshake_and_says_hello(visitor: WireSocket) -> None:
    assert (await frames(visitor, 1))[0]["type"] == "hello"


async def test_the_hub_unmasks_client_frames_of_both_short_length_classes(
    visitor: WireSocket,
) -> None:
    for ref, text in enumerate(["short", "x" * 200, "é" * 10_000]):  # 7-bit, 16-bit lengths
        visitor.send(orjson.dumps({"type": "send", "ref": ref, "text": text}))
        ack = await until(visitor, "ack")  # the ack echoes the text: 16-bit server frames
        assert (ack["ref"], ack["message"]["text"]) == (ref, text)


async def test_a_64_bit_client_frame_reaches_the_hub_which_closes_with_1009(
    visitor: WireSocket,
) -> None:
    visitor.send(b" " * 70_000)  # over the hub's 64 KiB frame bound
    assert await within(visitor.wait_closed()) == 1009


async def test_the_hub_refusing_a_handshake_raises_with_its_status(live: LiveServer) -> None:
    with pytest.raises(HandshakeError, match="403"):
        await connect(f"{live.ws_url}/ws/operator", {"Authorization": "Bearer nope"})


async def test_an_operator_socket_finds_the_stamp_of_every_message(live: LiveServer) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        token = await api_token(owner)
        session = await visitor_session(owner, await widget_channel(owner))
    operator = await connect(f"{live.ws_url}/ws/operator", {"Authorization": f"Bearer {token}"})
    sender = await connect(session["ws_url"], {"Origin": ORIGIN})
    stats = Stats()
    operator.listen(_hub_deliveries(operator, stats))  # the hello frame counts for nothing
    try:
        await until(sender, "hello")
        for ref, sent_at in enumerate([1.25, 2.5]):
            sender.send(orjson.dumps({"type": "send", "ref": ref, "text": f"lt {sent_at!r}"}))
            await until(sender, "ack")
        while stats.received < 2:
            await asyncio.sleep(0.01)
        assert stats.received == 2 and stats.max_s > 0
    finally:
        await operator.close()
        await sender.close()


# --- against the websockets server, for the RFC's corners -------------------------------

Behaviour = Callable[[ServerConnection], Awaitable[None]]


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Behaviour], Awaitable[WireSocket]]]:
    """Connects the client to a websockets server that does what the test says."""
    servers: list[Any] = []

    async def open_with(behaviour: Behaviour) -> WireSocket:
        running = await serve(behaviour, "127.0.0.1", 0, compression=None, max_size=None)
        servers.append(running)
        port = running.sockets[0].getsockname()[1]
        return await connect(f"ws://127.0.0.1:{port}/")

    yield open_with
    for running in servers:
        running.close()
        await running.wait_closed()


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
async def test_a_message_of_each_length_class_arrives_whole(server: Any, size: int) -> None:
    ws = await server(echo)
    message = bytes(32 + i % 95 for i in range(size))  # masked, echoed: a wrong byte shows
    ws.send(message)
    assert await within(ws.recv()) == message
    await ws.close()


async def test_many_frames_in_one_read_and_one_frame_over_many_reads(server: Any) -> None:
    sizes = [3, 200, 70_000, 1, 130]

    async def burst(ws: ServerConnection) -> None:
        for size in sizes:
            await ws.send(b"x" * size)
        await ws.wait_closed()

    ws = await server(burst)
    assert [len(await within(ws.recv())) for _ in sizes] == sizes
    await ws.close()


async def test_a_fragmented_message_is_joined(server: Any) -> None:
    async def fragments(ws: ServerConnection) -> None:
        await ws.send([b"a" * 10, b"b" * 70_000, b"c"])  # three frames, one message
        await ws.wait_closed()

    ws = await server(fragments)
    assert await within(ws.recv()) == b"a" * 10 + b"b" * 70_000 + b"c"
    await ws.close()


async def test_a_ping_is_answered_with_a_pong_while_listening(server: Any) -> None:
    async def ping(ws: ServerConnection) -> None:
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, TIMEOUT)  # waits for the matching pong
        await ws.send("ponged")
        await ws.wait_closed()

    ws = await server(ping)
    seen: list[bytes] = []
    ws.listen(seen.append)
    while not seen:
        await within(asyncio.sleep(0.01))
    assert seen == [b"ponged"]
    await ws.close()


async def test_the_servers_close_code_is_kept(server: Any) -> None:
    async def close(ws: ServerConnection) -> None:
        await ws.close(4001, "bye")

    ws = await server(close)
    assert await within(ws.wait_closed()) == 4001


async def test_a_connection_cut_without_a_close_frame_is_1006(server: Any) -> None:
    async def cut(ws: ServerConnection) -> None:
        ws.transport.abort()

    ws = await server(cut)
    assert await within(ws.wait_closed()) == 1006


async def test_sending_after_the_close_raises(server: Any) -> None:
    ws = await server(echo)
    await ws.close()
    with pytest.raises(ConnectionError):
        ws.send(b"late")


async def test_what_the_handler_raises_cuts_the_socket_and_is_raised_again(
    server: Any,
) -> None:
    ws = await server(echo)

    def broken(message: bytes) -> None:
        raise ValueError(message)

    ws.listen(broken)
    ws.send(b"boom")
    with pytest.raises(ValueError):
        await within(ws.wait_closed())


async def test_a_wrong_accept_key_fails_the_handshake() -> None:
    async def liar(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n"
        )
        await reader.read()
        writer.close()

    running = await asyncio.start_server(liar, "127.0.0.1", 0)
    port = running.sockets[0].getsockname()[1]
    try:
        with pytest.raises(HandshakeError, match="Accept"):
            await within(connect(f"ws://127.0.0.1:{port}/"))
    finally:
        running.close()


# --- finding the stamp -------------------------------------------------------------------


def test_the_stamp_is_found_in_a_hub_frame_and_a_socketio_event() -> None:
    text = f"lt {1733600000.123456!r}"
    hub = orjson.dumps({"type": "message", "message": {"id": "m1", "text": text, "seq": 3}})
    sio = b'42["message",' + orjson.dumps({"text": text}) + b"]"
    assert stamp(hub) == stamp(sio) == 1733600000.123456
    assert stamp(b'{"type":"hello"}') is None


def test_only_message_frames_are_observed() -> None:
    stats = Stats()
    hub = _hub_deliveries(None, stats)  # type: ignore[arg-type]
    hub(b'{"type":"conversation","conversation":{"last":"lt 1.0"}}')
    hub(b'{"type":"message","message":{"text":"lt 1.0"}}')
    sio = _sio_deliveries(None, stats)  # type: ignore[arg-type]
    sio(b'42["typing",{"text":"lt 1.0"}]')
    sio(b'42["message",{"text":"lt 1.0"}]')
    assert stats.received == 2
