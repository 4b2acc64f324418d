"""CPU per delivered frame in hub.fanout alone: Registry.deliver to many Connections.

    .venv/bin/python bench/fanout_micro.py [--sockets 1000] [--frames 200000] [--burst 1]

No sockets and no server: every Connection's ``send`` is a trivial coroutine that completes
at once (a writable socket), except that every ``--wait-every``-th send first yields to the
event loop once (a socket whose buffer is full for a moment). ``--burst`` payloads are
delivered per event-loop turn, then the loop runs until every writer has drained, so
``--burst 1`` is the case where each socket goes idle between messages (a room at a steady
rate) and larger bursts show the writer's coalescing. ``--idle`` more Connections sit in
``--idle-rooms`` other topics and receive nothing: the flat-cost check (the CPU per frame
should not move with them). Prints the median and the best of ``--repeat`` runs in µs of
process CPU per frame. Single-threaded and bounded by ``--frames``.

``--preframed`` gives the registry the web layer's framer and every Connection a wire that
always takes frames (a writable socket on the hub's uvicorn protocol), so the frames skip
``send``: what the hub spends on pre-framed fan-out, with no transport below it.

``--drain task`` measures the public-API alternative to what :mod:`hub.fanout` does: each
socket's queue written by a task of its own, instead of its sends stepped by hand until one
has to wait (the figure behind keeping the stepping; see ``docs/internals.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.bus import MemoryBus
from hub.codec import encode_json
from hub.fanout import Connection, Registry
from web.ws_frames import server_frame


def _drain_in_a_task(conn: Connection) -> None:
    """``Connection._drain`` through the front door: a task per drain, no hand stepping."""
    conn._task = asyncio.get_running_loop().create_task(_write_all(conn))


async def _write_all(conn: Connection) -> None:
    queue = conn._queue
    try:
        while conn._queue is queue:
            data = conn._next()
            if data is None:
                break
            await conn._send(data)
    except Exception as err:
        conn._broken(err)
        return
    if conn._queue is queue:
        conn._queue = conn._task = None
        conn._make_room()


class _Wire:
    """A wire that always takes frames and counts them (by the frame, as sends count)."""

    def __init__(self, counted: list[int], size: int) -> None:
        self.counted, self.size = counted, size

    def write_frames(self, frames: bytes) -> bool:
        self.counted[0] += len(frames) // self.size
        return True


async def run(
    sockets: int,
    frames: int,
    burst: int,
    fmt: str,
    wait_every: int,
    idle: int,
    idle_rooms: int,
    preframed: bool = False,
) -> float:
    sent = calls = 0
    written = [0]

    async def send(data: str | bytes) -> None:
        nonlocal sent, calls
        calls += 1
        if wait_every and calls % wait_every == 0:
            await asyncio.sleep(0)
        sent += 1

    async def close(code: int) -> None:
        pass

    registry = Registry(
        MemoryBus(lambda topic, payload: None),
        queue_bound=max(256, 2 * burst),
        framer=server_frame if preframed else None,
    )
    payload = msgpack.packb({"type": "message", "message": {"id": "m_1", "text": "hello"}})
    as_sent = payload if fmt == "msgpack" else encode_json(msgpack.unpackb(payload))
    wire = _Wire(written, len(server_frame(as_sent)))
    conns = [
        registry.connect(fmt, send, close, wire if preframed else None)  # type: ignore[arg-type]
        for _ in range(sockets)
    ]
    for conn in conns:
        await registry.join(conn, "ws:w")
    idlers = [registry.connect(fmt, send, close) for _ in range(idle)]  # type: ignore[arg-type]
    for n, conn in enumerate(idlers):
        await registry.join(conn, f"ws:idle{n % idle_rooms}")
    messages = frames // sockets
    await asyncio.sleep(0.01)
    start = time.process_time()
    for i in range(0, messages, burst):
        for _ in range(min(burst, messages - i)):
            registry.deliver("ws:w", payload)
        while sent + written[0] < min(i + burst, messages) * sockets:
            await asyncio.sleep(0)
    took = time.process_time() - start
    assert sent + written[0] == messages * sockets, (sent, written, messages * sockets)
    assert registry.counters.overloaded == 0
    for conn in conns + idlers:
        await registry.disconnect(conn)
    return took / (messages * sockets) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sockets", type=int, default=1000)
    p.add_argument("--frames", type=int, default=200_000, help="frames delivered in total")
    p.add_argument("--burst", type=int, default=1, help="payloads delivered per loop turn")
    p.add_argument("--format", choices=["msgpack", "json"], default="msgpack")
    p.add_argument("--wait-every", type=int, default=0, help="every n-th send waits once")
    p.add_argument("--idle", type=int, default=0, help="idle sockets in other rooms")
    p.add_argument("--idle-rooms", type=int, default=200, help="rooms of the idle sockets")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--preframed", action="store_true", help="framer and an always-open wire")
    p.add_argument(
        "--drain", choices=["by-hand", "task"], default="by-hand", help="how queues are written"
    )
    args = p.parse_args()
    if args.drain == "task":
        Connection._drain = _drain_in_a_task  # type: ignore[method-assign]
    try:
        import uvloop

        new_loop = uvloop.new_event_loop
    except ImportError:
        new_loop = asyncio.new_event_loop
    figures: list[float] = []
    for _ in range(args.repeat):
        with asyncio.Runner(loop_factory=new_loop) as runner:
            figures.append(
                runner.run(
                    run(
                        args.sockets,
                        args.frames,
                        args.burst,
                        args.format,
                        args.wait_every,
                        args.idle,
                        args.idle_rooms,
                        args.preframed,
                    )
                )
            )
    print(
        f"{args.sockets} sockets, {args.frames} frames, burst {args.burst}, {args.format}, "
        f"wait every {args.wait_every or '-'}, {args.idle} idle in {args.idle_rooms} rooms, "
        f"drain {args.drain}{', preframed' if args.preframed else ''}: "
        f"{statistics.median(figures):.2f} µs CPU per frame "
        f"(median of {args.repeat}; best {min(figures):.2f})"
    )


if __name__ == "__main__":
    main()
