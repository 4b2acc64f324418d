"""CPU per delivered frame of ``inviaro loadtest``'s subscriber sockets, on loopback.

    .venv/bin/python bench/loadgen_micro.py --client wire          # web/loadtest_wire.py
    .venv/bin/python bench/loadgen_micro.py --client websockets    # the client it replaced

A child process plays the hub: it accepts ``--sockets`` WebSocket handshakes, then writes
``--frames`` hub ``message`` frames to every socket, one frame per socket per round and
``--gap-ms`` between rounds (as the hub's fan-out delivers a room's message: one frame
per socket per write). This process reads them as the load generator's subscribers do
(uvloop, the latency stamp observed into ``Stats``) and prints its own CPU time per frame
(``time.process_time``), so the server's CPU is never counted. Loopback only, bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import multiprocessing as mp
import time
from typing import Any

import orjson
import uvloop

from web.loadtest_clients import Stats, _hub_deliveries
from web.loadtest_wire import connect

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def hub_frame(sent_at: float) -> bytes:
    """One unmasked server text frame shaped like the hub's ``message`` frame."""
    payload = orjson.dumps(
        {
            "type": "message",
            "message": {
                "id": "01JEXAMPLE0000000000000000",
                "conversation_id": "01JEXAMPLECONVERSATION0000",
                "seq": 1234,
                "client_id": None,
                "author": {"kind": "visitor", "id": "01JEXAMPLEVISITOR000000000", "name": None},
                "text": f"lt {sent_at!r}",
                "created_at": "2026-12-07T23:00:00.000000Z",
                "channel": "widget",
                "status": "received",
            },
        }
    )
    n = len(payload)
    head = bytes((0x81, n)) if n < 126 else bytes((0x81, 126)) + n.to_bytes(2, "big")
    return head + payload


def serve(port_out: Any, sockets: int, frames: int, gap_s: float) -> None:
    async def main() -> None:
        writers: list[asyncio.StreamWriter] = []
        all_in = asyncio.Event()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = await reader.readuntil(b"\r\n\r\n")
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            writers.append(writer)
            if len(writers) == sockets:
                all_in.set()
            await reader.read()  # until the client goes

        server = await asyncio.start_server(accept, "127.0.0.1", 0, backlog=4096)
        port_out.put(server.sockets[0].getsockname()[1])
        await all_in.wait()
        await asyncio.sleep(0.5)
        for _ in range(frames):
            frame = hub_frame(time.time())
            for w in writers:
                w.write(frame)
            await asyncio.sleep(gap_s)
        await asyncio.sleep(1)
        for w in writers:
            w.close()

    uvloop.run(main())


async def read_with_websockets(url: str, stats: Stats) -> Any:
    """The subscriber loop ``web/loadtest_clients.py`` had before the lean client."""
    from websockets.asyncio.client import connect as ws_connect

    ws = await ws_connect(url, max_size=None, ping_interval=None, compression=None)

    async def read() -> None:
        loads = orjson.loads
        async for raw in ws:
            if '"lt ' not in raw:
                continue
            frame = loads(raw)
            if frame.get("type") == "message":
                stats.observe(float(frame["message"]["text"][3:]))

    return asyncio.ensure_future(read())


async def read_with_wire(url: str, stats: Stats) -> Any:
    ws = await connect(url)
    ws.listen(_hub_deliveries(ws, stats))
    return ws


async def client(args: argparse.Namespace, port: int) -> tuple[float, int]:
    stats = Stats()
    url = f"ws://127.0.0.1:{port}/ws/operator"
    opener = read_with_wire if args.client == "wire" else read_with_websockets
    held = [await opener(url, stats) for _ in range(args.sockets)]
    wanted = args.sockets * args.frames
    while stats.received == 0:
        await asyncio.sleep(0.001)
    cpu = time.process_time()
    while stats.received < wanted:
        await asyncio.sleep(0.01)
    cpu = time.process_time() - cpu
    for h in held:
        if hasattr(h, "cancel"):
            h.cancel()
        else:
            h.abort()
    return cpu, stats.received


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--client", choices=["wire", "websockets"], default="wire")
    p.add_argument("--sockets", type=int, default=200)
    p.add_argument("--frames", type=int, default=500, help="frames per socket")
    p.add_argument("--gap-ms", type=float, default=2.0)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    ctx = mp.get_context("fork")
    figures = []
    for _ in range(args.repeat):
        port_out = ctx.Queue()
        child = ctx.Process(
            target=serve, args=(port_out, args.sockets, args.frames, args.gap_ms / 1000)
        )
        child.start()
        try:
            cpu, frames = uvloop.run(client(args, port_out.get(timeout=30)))
        finally:
            child.join(30)
            if child.is_alive():
                child.kill()
        figures.append(cpu / frames * 1e6)
        print(f"{args.client}: {frames} frames, {cpu:.2f} s CPU, {figures[-1]:.2f} µs/frame")
    figures.sort()
    print(f"{args.client}: median {figures[len(figures) // 2]:.2f} µs CPU per frame")


if __name__ == "__main__":
    main()
