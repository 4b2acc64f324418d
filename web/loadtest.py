"""``inviaro loadtest``: open many sockets against running hubs and measure delivery.

It signs up a throwaway workspace (or uses ``--token``), creates a widget channel, opens
``--operators`` operator sockets (every one receives every message of the workspace: one
room of that many subscribers) and ``--visitors`` visitor sockets, spread round-robin over
every ``--url``. Visitors then send ``--rate`` messages a second for ``--duration``
seconds; each operator socket timestamps what it receives. It prints progress, then the
latency summary (send to delivery, p50/p90/p99/max), deliveries per second and loss, and
can write the same as JSON. Only point it at hubs you run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

ORIGIN = "http://loadtest.invalid"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", action="append", help="hub base URL (repeat for several processes)")
    p.add_argument("--operators", type=int, default=100, help="operator sockets (one room)")
    p.add_argument("--visitors", type=int, default=10, help="visitor sockets that send")
    p.add_argument("--rate", type=float, default=100.0, help="messages per second in total")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    p.add_argument("--connect-concurrency", type=int, default=200)
    p.add_argument("--json", dest="json_out", help="write the summary to this file")
    p.add_argument("--quiet", action="store_true")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    received: int = 0
    sent: int = 0
    connect_errors: int = 0
    closed: int = 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _setup(url: str) -> tuple[str, str]:
    """A fresh workspace: an API token for operator sockets and a widget key for visitors."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        email = f"loadtest-{uuid.uuid4().hex[:10]}@example.com"
        response = await client.post(
            "/api/signup",
            json={
                "workspace": "Load test",
                "name": "Load Tester",
                "email": email,
                "password": uuid.uuid4().hex,
            },
        )
        response.raise_for_status()
        csrf = {"X-CSRF-Token": response.json()["csrf_token"]}
        token = await client.post("/api/tokens", json={"name": "loadtest"}, headers=csrf)
        token.raise_for_status()
        channel = await client.post(
            "/api/channels",
            headers=csrf,
            json={
                "kind": "widget",
                "name": "Load test",
                "config": {"allowed_origins": [ORIGIN]},
            },
        )
        channel.raise_for_status()
        return str(token.json()["token"]), str(channel.json()["public_key"])


def _ws(url: str) -> str:
    return "ws" + url[4:] if url.startswith("http") else url


async def _operator(
    url: str,
    token: str,
    stats: Stats,
    gate: asyncio.Semaphore,
    ready: asyncio.Event,
    stop: asyncio.Event,
    opened: list[int],
) -> None:
    from websockets.asyncio.client import connect

    try:
        async with gate:
            ws = await connect(
                f"{_ws(url)}/ws/operator",
                max_size=None,
                open_timeout=60,
                additional_headers={"Authorization": f"Bearer {token}"},
            )
    except Exception:
        stats.connect_errors += 1
        return
    opened[0] += 1
    async with ws:
        await ready.wait()
        recv = asyncio.ensure_future(_read_operator(ws, stats))
        await stop.wait()
        recv.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await recv


async def _read_operator(ws: Any, stats: Stats) -> None:
    try:
        async for raw in ws:
            frame = orjson.loads(raw)
            if frame.get("type") == "message":
                text = frame["message"]["text"]
                if text.startswith("lt "):
                    stats.latencies.append(time.time() - float(text[3:]))
                    stats.received += 1
    except Exception:
        stats.closed += 1


async def _visitor(
    url: str, key: str, stats: Stats, queue: asyncio.Queue[float], stop: asyncio.Event
) -> None:
    from websockets.asyncio.client import connect

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/api/widget/sessions", json={"key": key}, headers={"Origin": ORIGIN}
        )
        response.raise_for_status()
        ws_url = response.json()["ws_url"]
    async with connect(ws_url, additional_headers={"Origin": ORIGIN}, max_size=None) as ws:
        drain = asyncio.ensure_future(_drain(ws))
        ref = 0
        while not stop.is_set():
            try:
                await asyncio.wait_for(queue.get(), 0.2)
            except TimeoutError:
                continue
            ref += 1
            await ws.send(
                orjson.dumps({"type": "send", "ref": ref, "text": f"lt {time.time()}"}).decode()
            )
            stats.sent += 1
        drain.cancel()


async def _drain(ws: Any) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def run(args: argparse.Namespace) -> dict[str, Any]:
    urls = args.url or ["http://127.0.0.1:8000"]
    say = (lambda *_: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    token, key = await _setup(urls[0])
    stats = Stats()
    ready, stop, send_stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    opened = [0]
    started = time.perf_counter()
    gate = asyncio.Semaphore(args.connect_concurrency)

    operators = [
        asyncio.ensure_future(
            _operator(urls[i % len(urls)], token, stats, gate, ready, stop, opened)
        )
        for i in range(args.operators)
    ]
    while opened[0] + stats.connect_errors < args.operators:
        await asyncio.sleep(0.5)
        say(f"connected {opened[0]}/{args.operators} operator sockets")
    connect_s = time.perf_counter() - started
    queue: asyncio.Queue[float] = asyncio.Queue()
    visitors = [
        asyncio.ensure_future(_visitor(urls[i % len(urls)], key, stats, queue, send_stop))
        for i in range(args.visitors)
    ]
    await asyncio.sleep(1.0)
    ready.set()
    say(f"sending {args.rate:g} msg/s for {args.duration:g} s")
    begin = time.perf_counter()
    interval = 1.0 / args.rate
    n = 0
    while (elapsed := time.perf_counter() - begin) < args.duration:
        due = int(elapsed / interval) + 1
        while n < due:
            queue.put_nowait(time.time())
            n += 1
        await asyncio.sleep(min(interval, 0.01))
    send_stop.set()
    expected = lambda: stats.sent * opened[0]  # noqa: E731
    deadline = time.perf_counter() + 10
    while stats.received < expected() and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*operators, *visitors, return_exceptions=True)
    lat_ms = [v * 1000 for v in stats.latencies]
    summary = {
        "operators": opened[0],
        "visitors": args.visitors,
        "processes": len(urls),
        "connect_seconds": round(connect_s, 2),
        "sent": stats.sent,
        "deliveries": stats.received,
        "expected_deliveries": expected(),
        "loss": (1 - stats.received / expected()) if expected() else 0.0,
        "deliveries_per_s": round(stats.received / args.duration, 1),
        "p50_ms": round(percentile(lat_ms, 0.50), 2),
        "p90_ms": round(percentile(lat_ms, 0.90), 2),
        "p99_ms": round(percentile(lat_ms, 0.99), 2),
        "max_ms": round(max(lat_ms, default=0), 2),
        "mean_ms": round(statistics.fmean(lat_ms), 2) if lat_ms else None,
        "connect_errors": stats.connect_errors,
    }
    return summary


def main(args: argparse.Namespace) -> int:
    summary = asyncio.run(run(args))
    print(
        f"{summary['operators']} operator sockets on {summary['processes']} process(es); "
        f"sent {summary['sent']}, delivered {summary['deliveries']}/"
        f"{summary['expected_deliveries']} (loss {summary['loss']:.2%}); latency p50 "
        f"{summary['p50_ms']} ms, p90 {summary['p90_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"max {summary['max_ms']} ms"
    )
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(summary, f, indent=2)
    return 0 if summary["connect_errors"] == 0 else 1
