"""What hub/fanout.py relies on in the servers below it, pinned.

:class:`hub.fanout.Connection` runs a socket's ``send`` coroutine by hand, outside any task,
until it completes or first waits (``bench/fanout_micro.py --drain task`` measures what a
task per drain would cost instead). That holds only while the ASGI ``send`` that uvicorn
(through Starlette's routing) hands the endpoint needs no current task and, on a writable
socket, completes without waiting. A release that changes either fails here, by name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from tests.conftest import free_port
from web.ws_protocol import WebSocketProtocol

WAIT_S = 20.0  # a failure guard only, never a timing assertion


class _SendsByHand:
    """Accepts, then sends one frame the way hub.fanout does: stepped from a callback."""

    def __init__(self) -> None:
        self.outcome: asyncio.Future[tuple[bool, bool]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        loop = asyncio.get_running_loop()
        self.outcome = loop.create_future()
        loop.call_soon(self._step, send)
        await self.outcome
        while (await receive())["type"] != "websocket.disconnect":
            pass

    def _step(self, send: Send) -> None:
        assert self.outcome is not None
        outside_a_task = asyncio.current_task() is None
        frame = {"type": "websocket.send", "bytes": b"hi"}
        coro: Coroutine[Any, Any, None] = send(frame)  # type: ignore[assignment]
        try:
            coro.send(None)
        except StopIteration:
            self.outcome.set_result((outside_a_task, True))
        else:  # it waited: not what a writable socket should do
            coro.close()
            self.outcome.set_result((outside_a_task, False))


async def _started(server: uvicorn.Server) -> None:
    while not server.started:
        await asyncio.sleep(0.01)


async def test_the_asgi_send_completes_at_once_when_stepped_outside_any_task() -> None:
    endpoint = _SendsByHand()
    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=WebSocketProtocol, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(_started(server), WAIT_S)
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as client:
            frame = await asyncio.wait_for(client.recv(), WAIT_S)
            assert endpoint.outcome is not None
            assert await endpoint.outcome == (True, True)
            assert frame == b"hi"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, WAIT_S)
