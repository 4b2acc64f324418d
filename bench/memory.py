"""Where the bytes of an idle authenticated operator socket go.

    .venv/bin/python bench/memory.py [-n 1000] [--top 25] [--frames 16] [--ws hub|uvicorn]

Runs the app in this process exactly as ``inviaro serve`` builds it (``create_app`` and
``web.server.uvicorn_config``, uvloop when installed) on a free loopback port, on SQLite in
a temporary directory and the in-process bus, or on ``DATABASE_URL`` / ``REDIS_URL`` when
set. It signs up one workspace, makes an API token, and has a child process open ``-n``
operator sockets (``Authorization: Bearer``) that then sit idle. Printed, per socket:

1. RSS growth (``/proc/self/statm``), tracemalloc off (it costs memory of its own);
2. the gc-tracked object types that grew;
3. a tracemalloc diff by owner (the innermost caller outside the standard library: our
   lines one by one, other packages as a whole) and by allocating file:line.

200 sockets opened first and kept open keep lazy imports, caches and the database pool
out of the figures (and memory freed by closed sockets out of the RSS growth).
Bounded in time (``--timeout``); loopback only; the child is killed by its pid at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def types() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


# --- the child: opens sockets on command -------------------------------------------------


async def child(url: str, token: str) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    socks: list[Any] = []
    gate = asyncio.Semaphore(100)
    headers = {"Authorization": f"Bearer {token}"}

    async def one() -> Any:
        async with gate:
            ws = await connect(url, additional_headers=headers, ping_interval=None, open_timeout=60)
            await ws.recv()  # hello: the server's session is open
            return ws

    while line := (await reader.readline()).decode().split():
        if line[0] == "open":
            socks += await asyncio.gather(*(one() for _ in range(int(line[1]))))
        elif line[0] == "close":
            await asyncio.gather(*(ws.close() for ws in socks))
            socks.clear()
        print(len(socks), flush=True)


# --- the server side ---------------------------------------------------------------------


async def server_main(args: argparse.Namespace) -> None:
    import httpx

    from web import config
    from web import server as web_server
    from web.app import create_app
    from web.server import uvicorn_config, uvicorn_server

    if args.ws == "uvicorn":  # uvicorn's own protocol, without web/ws_protocol.py's changes
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )

        web_server.WebSocketProtocol = WebSocketsSansIOProtocol  # type: ignore[misc]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="inviaro-mem-")
    env = {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{tmp}/inviaro.db",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "INVIARO_SECRET_KEY": "memory-bench-secret-key-0123456789abcdef",
        "PORT": str(port),
    }
    settings = config.load(env)
    app = create_app(settings)
    server = uvicorn_server(uvicorn_config(app, settings, host="127.0.0.1", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post(
            "/api/signup",
            json={"workspace": "Mem", "name": "Mem", "email": f"m-{uuid.uuid4().hex}@example.com",
                  "password": uuid.uuid4().hex},
        )  # fmt: skip
        r.raise_for_status()
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        r = await client.post("/api/tokens", json={"name": "mem"}, headers=csrf)
        r.raise_for_status()
        token = r.json()["token"]

    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", f"ws://127.0.0.1:{port}/ws/operator", token,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    registry = app.state.services.hub.registry
    n = args.n

    async def ask(command: str, expect: int) -> None:
        assert proc.stdin and proc.stdout
        proc.stdin.write(command.encode() + b"\n")
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError("the client process failed; its error is above")
        assert int(line) == expect, (command, line)
        while registry.counters.sockets_open != expect:  # the server side caught up
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # idle: handshakes, hellos and presence all done
        gc.collect()

    warm = 200  # stay open throughout: imports, caches and the database pool are warm
    try:
        async with asyncio.timeout(args.timeout):
            await ask(f"open {warm}", warm)
            rss0, types0 = rss(), types()
            t0 = time.monotonic()
            await ask(f"open {n}", warm + n)
            took = time.monotonic() - t0
            rss1, types1 = rss(), types()
            await ask("close", 0)
            await ask(f"open {warm}", warm)
            tracemalloc.start(args.frames)
            snap0 = tracemalloc.take_snapshot()
            await ask(f"open {n}", warm + n)
            snap1 = tracemalloc.take_snapshot()
            tracemalloc.stop()
            await ask("close", 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        server.should_exit = True
        await serving
        shutil.rmtree(tmp, ignore_errors=True)

    db, bus = settings.database_url.split(":")[0], "redis" if settings.redis_url else "memory"
    print(f"{n} idle operator sockets, opened in {took:.2f} s ({db}, {bus} bus)")
    print(f"RSS growth: {(rss1 - rss0) / n / 1024:.1f} KB per socket\n")
    grew = sorted(((c - types0[t], t) for t, c in types1.items() if c > types0[t]), reverse=True)
    print("gc-tracked objects per socket: " + ", ".join(
        f"{t} {d / n:.2f}" for d, t in grew if d >= n / 2))  # fmt: skip
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    snap0, snap1 = snap0.filter_traces(filters), snap1.filter_traces(filters)
    by_line = snap1.compare_to(snap0, "lineno")
    total = sum(d.size_diff for d in by_line)
    print(f"\ntracemalloc: {total / n:.0f} B per socket")
    owners: Counter[str] = Counter()
    for d in snap1.compare_to(snap0, "traceback"):
        owners[_owner(d.traceback)] += d.size_diff
    print("\nby owner (the innermost caller outside the stdlib; ours by line, others by package):")
    for owner, size in owners.most_common(args.top):
        print(f"{size / n:7.0f}  {owner}")
    print(f"\nby allocating line, top {args.top}:\n{'B/sock':>7} {'blk/sock':>8}  where")
    for d in by_line[: args.top]:
        f = d.traceback[-1]
        print(f"{d.size_diff / n:7.0f} {d.count_diff / n:8.2f}  {_short(f.filename)}:{f.lineno}")


def _owner(tb: tracemalloc.Traceback) -> str:
    """Who asked: the innermost frame outside the standard library, ours by line."""
    for f in reversed(tb):  # innermost first
        name = _short(f.filename)
        if name.startswith(("hub/", "web/")):
            return f"{name}:{f.lineno}"
        if not name.startswith("stdlib/"):
            return name.split("/")[0]
    return "stdlib"


def _short(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if "/lib/python3" in path:
        return "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[1]
    return os.path.relpath(path, ROOT) if path.startswith(str(ROOT)) else path


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2], sys.argv[3]))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("-n", type=int, default=1000, help="idle operator sockets (default 1000)")
    p.add_argument("--top", type=int, default=25, help="tracemalloc lines to show")
    p.add_argument("--frames", type=int, default=16, help="traceback depth to trace")
    p.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    p.add_argument(
        "--ws",
        choices=["hub", "uvicorn"],
        default="hub",
        help="the WebSocket protocol: web/ws_protocol.py's (default) or uvicorn's own",
    )
    args = p.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(server_main(args))
    else:
        uvloop.run(server_main(args))


if __name__ == "__main__":
    main()
