"""The python-socketio reference server for bench/: rooms fanned out through Redis.

Usage: ``python bench/sio_server.py PORT REDIS_URL``. A client connects with
``?room=N&token=loadtest`` and is put in room ``N``; the event ``send`` with
``{"room": N, "text": ...}`` is emitted to that room on every server through
``AsyncRedisManager`` and acknowledged. Same uvicorn settings as the hub.
"""

from __future__ import annotations

import sys
from urllib.parse import parse_qs

import socketio
import uvicorn

port, redis_url = int(sys.argv[1]), sys.argv[2]
sio = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=socketio.AsyncRedisManager(redis_url),
    cors_allowed_origins="*",
    transports=["websocket"],
)


@sio.event
async def connect(sid: str, environ: dict, auth: object) -> bool:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("token", [""])[0] != "loadtest":
        return False
    room = query.get("room", ["-1"])[0]
    if room != "-1":
        await sio.enter_room(sid, f"room:{room}")
    return True


@sio.on("send")
async def send(sid: str, data: dict) -> dict:
    await sio.emit("message", {"text": data["text"]}, room=f"room:{data['room']}")
    return {"ok": True}


if __name__ == "__main__":
    uvicorn.run(
        socketio.ASGIApp(sio),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_level="warning",
    )
