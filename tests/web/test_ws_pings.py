"""Keepalive pings (web/ws_protocol.py): one loop timer per second of pings due, not one
per socket; a socket still gets its pings, and one that stops answering is closed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from tests.conftest import free_port
from web import ws_protocol
from web.ws_protocol import _PINGS, WebSocketProtocol, _Pings

WAIT_S = 20.0  # a failure guard only, never a timing assertion


class _Loop:
    """What _Pings uses of an event loop, with the clock stopped and timers noted."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.timers: list[tuple[float, Any, tuple[Any, ...]]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any, *args: Any) -> None:
        self.timers.append((when, callback, args))

    def fire(self) -> None:
        timers, self.timers = self.timers, []
        for _, callback, args in timers:
            callback(*args)


class _Socket:
    def __init__(self) -> None:
        self.pings = 0
        self.client = ("127.0.0.1", 1)

    def send_keepalive_ping(self) -> None:
        self.pings += 1


def _pings(loop: _Loop) -> _Pings:
    pings = _Pings(loop)  # type: ignore[arg-type]
    _PINGS[loop] = weakref.ref(pings)  # type: ignore[index]
    return pings


def test_pings_due_in_the_same_second_share_one_loop_timer() -> None:
    loop = _Loop(100.2)
    pings = _pings(loop)
    pings.after(25.0, _Socket())  # type: ignore[arg-type]
    pings.after(25.5, _Socket())  # type: ignore[arg-type]
    assert [when for when, _, _ in loop.timers] == [126]


def test_a_ping_goes_out_when_its_second_comes() -> None:
    loop, socket = _Loop(100.0), _Socket()
    _pings(loop).after(25.0, socket)  # type: ignore[arg-type]
    loop.fire()
    assert socket.pings == 1


def test_a_cancelled_ping_does_not_go_out() -> None:
    loop, cancelled, kept = _Loop(100.0), _Socket(), _Socket()
    pings = _pings(loop)
    pings.after(25.0, cancelled).cancel()  # type: ignore[arg-type]
    pings.after(25.0, kept)  # type: ignore[arg-type]
    loop.fire()
    assert (cancelled.pings, kept.pings) == (0, 1)


def test_a_loop_is_forgotten_once_its_last_pending_ping_went_out() -> None:
    loop = _Loop(100.0)
    _pings(loop).after(25.0, _Socket())  # type: ignore[arg-type]
    loop.fire()
    assert loop not in _PINGS  # type: ignore[comparison-overlap]


def test_an_event_loop_closed_with_pings_pending_is_not_kept_alive_by_them() -> None:
    loop = asyncio.new_event_loop()
    ws_protocol._pings(loop).after(25.0, _Socket())  # type: ignore[arg-type]
    loop.close()
    closed = weakref.ref(loop)
    del loop
    gc.collect()
    assert closed() is None


class _Idle:
    """A plain ASGI endpoint: accepts, then only waits for the disconnect."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass


async def _serve(**config: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    port = free_port()
    app = Starlette(routes=[WebSocketRoute("/ws", _Idle())])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, ws=WebSocketProtocol, log_config=None,
                       lifespan="off", ws_ping_interval=0.2, ws_ping_timeout=1.0, **config)
    )  # fmt: skip
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(WAIT_S):
        while not server.started:
            await asyncio.sleep(0.01)
    return server, serving, port


async def test_a_socket_that_answers_its_pings_gets_them_again_and_again() -> None:
    server, serving, port = await _serve()
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", ping_interval=None) as client:
            pings = 0
            original = client.protocol.recv_frame

            def counting(frame: Any) -> None:
                nonlocal pings
                pings += frame.opcode is websockets.frames.Opcode.PING
                original(frame)

            client.protocol.recv_frame = counting  # type: ignore[method-assign]
            async with asyncio.timeout(WAIT_S):
                while pings < 3:
                    await asyncio.sleep(0.05)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, WAIT_S)


async def test_a_socket_that_stops_answering_pings_is_closed_1011() -> None:
    server, serving, port = await _serve()
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", ping_interval=None) as client:
            client.transport.pause_reading()  # reads nothing more, so answers no ping
            async with asyncio.timeout(WAIT_S):
                while server.server_state.connections:  # until the server gave up on it
                    await asyncio.sleep(0.05)
                client.transport.resume_reading()
                await client.wait_closed()
            assert client.protocol.close_rcvd is not None
            assert client.protocol.close_rcvd.code == 1011
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, WAIT_S)
