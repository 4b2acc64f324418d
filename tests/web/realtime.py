"""Helpers for real-time tests: sockets for operators and visitors, and frame waiting."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import msgpack
import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.helpers import Account

ORIGIN = "https://shop.example"
TIMEOUT = 10.0
OPEN: list[Socket] = []  # every socket a test opened, closed by fixtures at teardown


@dataclass
class Widget:
    key: str
    channel_id: str


async def widget_channel(owner: Account, origins: list[str] | None = None) -> Widget:
    response = await owner.post(
        "/api/channels",
        json={
            "kind": "widget",
            "name": "Website",
            "config": {"allowed_origins": origins or [ORIGIN]},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Widget(body["public_key"], body["id"])


async def visitor_session(
    owner: Account, widget: Widget, token: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"key": widget.key}
    if token:
        body["visitor_token"] = token
    response = await owner.client.post(
        "/api/widget/sessions", json=body, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def started_visitor(
    owner: Account, widget: Widget, text: str = "Hello", token: str | None = None
) -> dict[str, Any]:
    """A visitor who has written ``text`` (a widget session stores nothing before the first
    message): a fresh session of theirs, whose conversation exists."""
    session = await visitor_session(owner, widget, token)
    socket = await visitor_socket(session["ws_url"])
    try:
        await socket.send({"type": "send", "ref": "first", "text": text})
        await socket.wait_for(type="ack", ref="first")
    finally:
        await socket.close()
    return await visitor_session(owner, widget, session["visitor_token"])


class Socket:
    """A client socket that decodes frames and waits for the ones a test expects."""

    def __init__(self, ws: ClientConnection, fmt: str = "json") -> None:
        self.ws = ws
        self.fmt = fmt
        self.frames: list[dict[str, Any]] = []
        OPEN.append(self)

    async def send(self, frame: dict[str, Any]) -> None:
        if self.fmt == "msgpack":
            await self.ws.send(msgpack.packb(frame))
        else:
            await self.ws.send(orjson.dumps(frame).decode())

    async def recv(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        frame = msgpack.unpackb(raw) if isinstance(raw, bytes) else orjson.loads(raw)
        self.frames.append(frame)
        return dict(frame)

    async def wait_for(self, **match: Any) -> dict[str, Any]:
        """The next frame whose fields equal ``match`` (earlier frames are kept, not lost)."""
        while True:
            frame = await self.recv()
            if all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def messages(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` distinct messages (merged by id, as clients do)."""
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < count:
            frame = await self.wait_for(type="message")
            seen[frame["message"]["id"]] = frame["message"]
        return list(seen.values())

    async def close(self) -> None:
        await self.ws.close()


async def operator_socket(
    account: Account, base_ws: str, fmt: str = "json", origin: str | None = None
) -> Socket:
    cookies = "; ".join(f"{c.name}={c.value}" for c in account.client.cookies.jar)
    headers = {"Cookie": cookies}
    if origin:
        headers["Origin"] = origin
    ws = await connect(
        f"{base_ws}/ws/operator",
        additional_headers=headers,
        subprotocols=[f"inviaro.{fmt}"],  # type: ignore[list-item]
        open_timeout=TIMEOUT,
        max_queue=None,  # a test reads when it is ready; buffer meanwhile, never stall
    )
    socket = Socket(ws, fmt)
    await socket.wait_for(type="hello")
    return socket


async def visitor_socket(ws_url: str, fmt: str = "json", origin: str = ORIGIN) -> Socket:
    ws = await connect(
        ws_url,
        additional_headers={"Origin": origin},
        subprotocols=[f"inviaro.{fmt}"],  # type: ignore[list-item]
        open_timeout=TIMEOUT,
        max_queue=None,  # a test reads when it is ready; buffer meanwhile, never stall
    )
    socket = Socket(ws, fmt)
    await socket.wait_for(type="hello")
    return socket


async def close_all_sockets() -> None:
    while OPEN:
        with contextlib.suppress(Exception):
            await OPEN.pop().ws.close()
