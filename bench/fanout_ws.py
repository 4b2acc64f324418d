"""CPU per delivered frame through real sockets: hub.fanout over the hub's uvicorn protocol.

    .venv/bin/python bench/fanout_ws.py [--sockets 1000] [--messages 300] [--burst 1]
                                        [--format json] [--path preframed|asgi]

A uvicorn server in this process (``web.ws_protocol.WebSocketProtocol``, compression off,
behind Starlette's routing as in production) accepts ``--sockets`` WebSockets on 127.0.0.1
from a child process that only reads and counts bytes; every socket joins one topic of a
``Registry``, which then gets ``--messages`` bus payloads, ``--burst`` per event-loop turn,
each burst waited for until the child has read every byte of it. It prints this process's
CPU (the server's alone: the reader is another process) per delivered frame, median and
best of ``--repeat``. ``--path asgi`` turns the pre-framed fast path off (every frame as an
ASGI message through uvicorn's ``send``), which is how every frame went before it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import selectors
import socket
import statistics
import sys
from pathlib import Path
from typing import Any

import msgpack
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.bus import MemoryBus
from hub.fanout import Registry
from web.ws import _Out, _wire
from web.ws_frames import server_frame
from web.ws_protocol import WebSocketProtocol

TOPIC = "ws:bench"
PAYLOAD = msgpack.packb(
    {"type": "message", "message": {"id": "msg_01JEXAMPLE", "seq": 7, "text": "hello " * 20}}
)


class _Endpoint:
    """Accept, file the socket in the registry, and read until it goes (as ``web.ws`` does,
    without authentication or a session)."""

    def __init__(self, registry: Registry, fmt: Any, fast: bool) -> None:
        self.registry, self.fmt, self.fast = registry, fmt, fast
        self.joined = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        out = _Out(send)
        wire = _wire(scope) if self.fast else None
        conn = self.registry.connect(self.fmt, out.send, out.close, wire)
        await self.registry.join(conn, TOPIC)
        self.joined += 1
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            await self.registry.disconnect(conn)


def _child(port: int, sockets: int) -> None:
    """The reader: open the sockets, then read and count bytes; answer each line on stdin
    with the count so far."""
    upgrade = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    selector = selectors.DefaultSelector()
    conns = []
    for _ in range(sockets):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(upgrade)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head[:80]
        assert head.endswith(b"\r\n\r\n"), "frames before the bench started"
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        conns.append(sock)
    selector.register(sys.stdin.buffer, selectors.EVENT_READ)
    total = 0
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sys.stdin.buffer:
                if not os.read(sys.stdin.fileno(), 4096):
                    return
                print(total, flush=True)
                continue
            chunk = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
            total += len(chunk)


async def run(sockets: int, messages: int, burst: int, fmt: str, fast: bool) -> tuple[float, float]:
    registry = Registry(MemoryBus(lambda topic, payload: None), framer=server_frame)
    endpoint = _Endpoint(registry, fmt, fast)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        Starlette(routes=[WebSocketRoute("/ws", endpoint)]),
        ws=WebSocketProtocol,
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        lifespan="off",
        log_level="warning",
        backlog=sockets,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        str(port),
        str(sockets),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    assert (await child.stdout.readline()).strip() == b"ready"
    while endpoint.joined < sockets:
        await asyncio.sleep(0.01)
    frame = server_frame(PAYLOAD if fmt == "msgpack" else _as_json(PAYLOAD))

    async def read_so_far() -> int:
        child.stdin.write(b"?\n")  # type: ignore[union-attr]
        return int(await child.stdout.readline())  # type: ignore[union-attr]

    start = resource.getrusage(resource.RUSAGE_SELF)
    for done in range(burst, messages + burst, burst):
        for _ in range(min(burst, messages - done + burst)):
            registry.deliver(TOPIC, PAYLOAD)
        expected = min(done, messages) * sockets * len(frame)
        while await read_so_far() < expected:
            await asyncio.sleep(0.0005)
    end = resource.getrusage(resource.RUSAGE_SELF)
    assert registry.counters.overloaded == 0
    child.stdin.close()
    await child.wait()
    server.should_exit = True
    await serving
    frames = messages * sockets
    return (end.ru_utime - start.ru_utime) / frames * 1e6, (
        end.ru_stime - start.ru_stime
    ) / frames * 1e6


def _as_json(payload: bytes) -> str:
    from hub.codec import encode_json

    return encode_json(msgpack.unpackb(payload, raw=False))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sockets", type=int, default=1000)
    p.add_argument("--messages", type=int, default=300)
    p.add_argument("--burst", type=int, default=1, help="payloads delivered per loop turn")
    p.add_argument("--format", choices=["msgpack", "json"], default="json")
    p.add_argument("--path", choices=["preframed", "asgi"], default="preframed")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(*args.child)
        return
    import uvloop

    figures: list[tuple[float, float]] = []
    for _ in range(args.repeat):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            figures.append(
                runner.run(
                    run(
                        args.sockets,
                        args.messages,
                        args.burst,
                        args.format,
                        args.path == "preframed",
                    )
                )
            )
    user = [u for u, _ in figures]
    total = [u + s for u, s in figures]
    print(
        f"{args.sockets} sockets, {args.messages} messages, burst {args.burst}, {args.format}, "
        f"path {args.path}: µs CPU per frame, median of {args.repeat}: "
        f"user {statistics.median(user):.2f}, user+sys {statistics.median(total):.2f} "
        f"(best {min(user):.2f} / {min(total):.2f})"
    )


if __name__ == "__main__":
    main()
