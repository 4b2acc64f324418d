"""``inviaro loadtest``: open many sockets against running hubs and measure delivery.

It signs up ``--rooms`` throwaway workspaces (or uses ``--token`` and ``--widget-key``),
each with a widget channel, opens ``--operators`` operator sockets spread over the rooms
(every operator socket receives every message of its workspace: a room) and ``--visitors``
widget visitor sockets that send, round-robin over every ``--url``. Visitors send
``--rate`` messages a second in total for ``--duration`` seconds, or, with ``--rate 0``, as
fast as the hub acknowledges (``--window`` messages in flight per visitor). Each message
carries its send time; each operator socket measures the delay to delivery.

``--procs`` spreads the sockets over several generator processes so the generator is not
the bottleneck. It shows live progress, then a summary (connect rate, deliveries/s,
p50/p90/p99/p99.9/max, losses, close codes, the generators' own CPU per delivery from go
to stop); ``--json`` writes it to a file. With ``--server-pid`` (hubs on this machine) it
also reports the servers' memory per socket and CPU per delivery. Bounded in time and
count. Only point it at hubs you run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from web.loadtest_clients import ORIGIN, Room, Share, client_headers, hist_value_s, share_main
from web.server import raise_open_files_limit

MAX_SOCKETS = 100_000
MAX_DURATION_S = 3600.0
# After the last send, deliveries are counted until every message is answered and every
# expected delivery arrived, or this long has passed: a slow server's are late, not lost.
DRAIN_S = 60.0
LATE_S = 1.0  # a delivery slower than this is reported as late (it still counts)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", action="append", help="hub base URL (repeat for several processes)")
    p.add_argument("--operators", type=int, default=100, help="operator sockets (subscribers)")
    p.add_argument("--visitors", type=int, default=10, help="visitor sockets that send")
    p.add_argument("--rooms", type=int, default=1, help="workspaces to spread operators over")
    p.add_argument(
        "--rate", type=float, default=100.0, help="messages a second in total; 0: as fast as acked"
    )
    p.add_argument(
        "--window", type=int, default=4, help="messages in flight per visitor (--rate 0)"
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending (or holding)")
    p.add_argument("--procs", type=int, default=1, help="load generator processes")
    p.add_argument("--connect-concurrency", type=int, default=100, help="handshakes at once")
    p.add_argument("--token", help="an operator API token to use instead of signing up")
    p.add_argument("--widget-key", help="the widget channel key to use with --token")
    p.add_argument(
        "--protocol",
        choices=["inviaro", "socketio"],
        default="inviaro",
        help="socketio: drive bench/'s Socket.IO reference server the same way",
    )
    p.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="a server process on this machine: report its memory and CPU",
    )
    p.add_argument("--json", dest="json_out", help="write the summary to this file")
    p.add_argument("--quiet", action="store_true", help="no live progress")


# --- setup through the public API ------------------------------------------------------


async def _signup(client: httpx.AsyncClient) -> Room:
    email = f"loadtest-{uuid.uuid4().hex[:12]}@example.com"
    response = await client.post(
        "/api/signup",
        json={
            "workspace": "Load test",
            "name": "Load Tester",
            "email": email,
            "password": uuid.uuid4().hex,
        },
        headers=client_headers(),
    )
    response.raise_for_status()
    csrf = {"X-CSRF-Token": response.json()["csrf_token"]}
    token = await client.post("/api/tokens", json={"name": "loadtest"}, headers=csrf)
    token.raise_for_status()
    channel = await client.post(
        "/api/channels",
        headers=csrf,
        json={"kind": "widget", "name": "Load test", "config": {"allowed_origins": [ORIGIN]}},
    )
    channel.raise_for_status()
    return Room(0, str(token.json()["token"]), str(channel.json()["public_key"]))


async def _setup(args: argparse.Namespace, url: str) -> list[Room]:
    if args.protocol == "socketio":
        return [Room(i, "loadtest") for i in range(args.rooms)]
    if args.token:
        return [Room(0, args.token, args.widget_key or "")]
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> Room:
        async with gate, httpx.AsyncClient(base_url=url, timeout=60) as client:
            room = await _signup(client)
            room.index = i
            return room

    return list(await asyncio.gather(*(one(i) for i in range(args.rooms))))


# --- servers on this machine -----------------------------------------------------------


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


# --- the controller --------------------------------------------------------------------


def _shares(args: argparse.Namespace, urls: list[str], rooms: list[Room]) -> list[Share]:
    procs = max(1, args.procs)
    subs: list[list[tuple[str, int]]] = [[] for _ in range(procs)]
    senders: list[list[tuple[str, int]]] = [[] for _ in range(procs)]
    for i in range(args.operators):
        subs[i % procs].append((urls[i % len(urls)], i % len(rooms)))
    for i in range(args.visitors):
        senders[i % procs].append((urls[(i + 1) % len(urls)], i % len(rooms)))
    sending = sum(1 for s in senders if s) or 1
    return [
        Share(
            protocol=args.protocol,
            subscribers=subs[p],
            senders=senders[p],
            rooms=rooms,
            rate=args.rate / sending if senders[p] else 0.0,
            window=max(1, args.window),
            duration=min(args.duration, MAX_DURATION_S),
            concurrency=max(1, args.connect_concurrency // procs),
        )
        for p in range(procs)
    ]


def _sum(progress: dict[int, dict[str, Any]], key: str) -> int:
    return sum(int(p.get(key, 0)) for p in progress.values())


def _percentiles(hist: Counter[int], total: int) -> dict[str, float]:
    out: dict[str, float] = {}
    if not total:
        return {k: float("nan") for k in ("p50", "p90", "p99", "p999")}
    marks = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p999": 0.999}
    running = 0
    ordered = sorted(hist.items())
    for name, q in marks.items():
        running = 0
        for bucket, count in ordered:
            running += count
            if running >= q * total:
                out[name] = hist_value_s(bucket) * 1000
                break
    return out


class _Controller:
    """Reads the generators' reports: their latest progress, phase and final result."""

    def __init__(self, report: Any, workers: list[Any], say: Any, wanted: int) -> None:
        self.report = report
        self.workers = workers
        self.say = say
        self.wanted = wanted
        self.started = time.perf_counter()
        self.progress: dict[int, dict[str, Any]] = {}
        self.phase: dict[int, str] = {}
        self.results: dict[int, dict[str, Any]] = {}
        self._said = 0.0

    def total(self, key: str) -> int:
        return sum(int(p.get(key, 0)) for p in self.progress.values())

    def expected(self) -> int:
        acked: Counter[int] = Counter()
        subscribers: Counter[int] = Counter()
        for p in self.progress.values():
            acked.update(p.get("acked_by_room", {}))
            subscribers.update(p.get("subscribers_by_room", {}))
        return _expected((acked, subscribers))

    def drained(self) -> bool:
        """Every message sent is answered (acked or refused) and every delivery the acks
        promise has arrived. Until then a slow server's deliveries are late, not lost."""
        answered = self.total("acked") + self.total("errors") >= self.total("sent")
        return answered and self.total("received") >= self.expected()

    def poll(self) -> None:
        try:
            index, kind, data = self.report.get(timeout=0.1)
        except queue.Empty:
            index, kind, data = -1, "", None
        if index >= 0:
            if kind == "failed":
                raise SystemExit(f"inviaro loadtest: generator {index} failed: {data}")
            self.progress[index] = data
            if kind in ("ready", "sent", "result"):
                self.phase[index] = kind
            if kind == "result":
                self.results[index] = data
        elif any(not w.is_alive() for i, w in enumerate(self.workers) if i not in self.results):
            raise SystemExit("inviaro loadtest: a generator process exited early")
        now = time.perf_counter()
        if now - self._said >= 1.0:
            self._said = now
            self.say(
                f"[{now - self.started:6.1f}s] sockets {self.total('opened')}"
                f"+{self.total('senders')}/{self.wanted}  sent {self.total('sent')}"
                f"  acked {self.total('acked')}  delivered {self.total('received')}"
                f"  errors {self.total('connect_errors') + self.total('errors')}"
            )

    def wait_phase(self, name: str, deadline: float) -> None:
        while sum(1 for p in self.phase.values() if p == name) < len(self.workers):
            if time.perf_counter() > deadline:
                raise SystemExit(f"inviaro loadtest: timed out waiting for {name}")
            self.poll()


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.operators + args.visitors > MAX_SOCKETS:
        raise SystemExit(f"inviaro loadtest: at most {MAX_SOCKETS} sockets")
    duration = min(args.duration, MAX_DURATION_S)
    urls = [u.rstrip("/") for u in (args.url or ["http://127.0.0.1:8000"])]

    def say(*words: Any) -> None:
        if not args.quiet:
            print(*words, file=sys.stderr, flush=True)

    raise_open_files_limit()  # the generators inherit it
    rooms = asyncio.run(_setup(args, urls[0]))
    shares = _shares(args, urls, rooms)
    pids = args.server_pid
    ctx = mp.get_context("fork")
    report = ctx.Queue()
    go, stop = ctx.Event(), ctx.Event()
    rss_before = {p: _rss_kb(p) for p in pids}
    workers = [
        ctx.Process(target=share_main, args=(i, s, report, go, stop), daemon=True)
        for i, s in enumerate(shares)
    ]
    for w in workers:
        w.start()
    c = _Controller(report, workers, say, args.operators + args.visitors)
    try:
        c.wait_phase("ready", c.started + 600)
        connect_s = time.perf_counter() - c.started
        rss_connected = {p: _rss_kb(p) for p in pids}
        cpu_go = {p: cpu_seconds(p) for p in pids}
        say(f"all sockets open in {connect_s:.1f}s; sending for {duration:g}s")
        send_begin = time.perf_counter()
        go.set()
        c.wait_phase("sent", send_begin + duration + 120)
        send_s = time.perf_counter() - send_begin
        drain_until = time.perf_counter() + DRAIN_S
        while not c.drained() and time.perf_counter() < drain_until:
            c.poll()
        drain_s = time.perf_counter() - send_begin - send_s
        cpu_end = {p: cpu_seconds(p) for p in pids}
        stop.set()
        c.wait_phase("result", time.perf_counter() + 120)
    finally:
        stop.set()
        go.set()
        for w in workers:
            w.join(30)
            if w.is_alive():
                w.kill()
    return _summary(
        args,
        urls,
        rooms,
        c.results,
        connect_s,
        send_s,
        drain_s,
        rss_before,
        rss_connected,
        cpu_go,
        cpu_end,
    )


def _expected(rooms: tuple[Counter[int], Counter[int]]) -> int:
    acked, subscribers = rooms
    return sum(n * subscribers.get(r, 0) for r, n in acked.items())


def _summary(
    args: argparse.Namespace,
    urls: list[str],
    rooms: list[Room],
    results: dict[int, dict[str, Any]],
    connect_s: float,
    send_s: float,
    drain_s: float,
    rss_before: dict[int, int],
    rss_connected: dict[int, int],
    cpu_go: dict[int, float],
    cpu_end: dict[int, float],
) -> dict[str, Any]:
    acked: Counter[int] = Counter()
    subscribers: Counter[int] = Counter()
    hist: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    for r in results.values():
        acked.update({int(k): v for k, v in r["acked_by_room"].items()})
        subscribers.update({int(k): v for k, v in r["subscribers_by_room"].items()})
        hist.update({int(k): v for k, v in r["hist"].items()})
        codes.update(r["close_codes"])
    expected = _expected((acked, subscribers))
    received = _sum(results, "received")
    generator_cpu = sum(float(r["cpu_s"]) for r in results.values())
    opened = _sum(results, "opened") + _sum(results, "senders")
    summary: dict[str, Any] = {
        "protocol": args.protocol,
        "processes": len(urls),
        "generator_procs": max(1, args.procs),
        "rooms": len(rooms),
        "subscribers": _sum(results, "opened"),
        "senders": _sum(results, "senders"),
        "connect_errors": _sum(results, "connect_errors"),
        "connect_seconds": round(connect_s, 3),
        "connect_per_s": round(opened / connect_s, 1) if connect_s else None,
        "send_seconds": round(send_s, 3),
        "sent": _sum(results, "sent"),
        "acked": _sum(results, "acked"),
        "send_errors": _sum(results, "errors"),
        "acked_per_s": round(_sum(results, "acked") / send_s, 1) if send_s else 0.0,
        "deliveries": received,
        "expected_deliveries": expected,
        "loss": max(0.0, 1 - received / expected) if expected else 0.0,
        "lost": max(0, expected - received),
        "late": sum(n for bucket, n in hist.items() if hist_value_s(bucket) > LATE_S),
        "late_after_s": LATE_S,
        "drain_seconds": round(drain_s, 3),
        "generator_errors": _sum(results, "generator_errors"),
        # the generators' CPU from go to stop: a generator near a core each skews latency
        "generator_cpu_seconds": round(generator_cpu, 3),
        "generator_cpu_us_per_delivery": round(generator_cpu / received * 1e6, 2)
        if received
        else None,
        "deliveries_per_s": round(received / (send_s + drain_s), 1) if send_s else 0.0,
        "max_ms": round(max((r["max_s"] for r in results.values()), default=0) * 1000, 2),
        "close_codes": dict(codes),
    }
    summary.update(
        {f"{k}_ms": round(v, 2) for k, v in _percentiles(hist, sum(hist.values())).items()}
    )
    if rss_before:
        grown = sum(rss_connected.values()) - sum(rss_before.values())
        cpu = sum(cpu_end.values()) - sum(cpu_go.values())
        summary["server"] = {
            "pids": list(rss_before),
            "rss_before_kb": sum(rss_before.values()),
            "rss_connected_kb": sum(rss_connected.values()),
            "rss_per_socket_kb": round(grown / opened, 2) if opened else None,
            "cpu_seconds": round(cpu, 3),
            "cpu_us_per_delivery": round(cpu / received * 1e6, 2) if received else None,
        }
    return summary


def print_summary(s: dict[str, Any], out: Any = sys.stdout) -> None:
    rows = [
        (
            "sockets",
            f"{s['subscribers']} subscribers + {s['senders']} senders in "
            f"{s['rooms']} room(s) on {s['processes']} process(es)",
        ),
        (
            "connect",
            f"{s['connect_seconds']} s ({s['connect_per_s']}/s), {s['connect_errors']} errors",
        ),
        (
            "sent / acked",
            f"{s['sent']} / {s['acked']} in {s['send_seconds']} s "
            f"({s['acked_per_s']}/s), {s['send_errors']} refused",
        ),
        (
            "deliveries",
            f"{s['deliveries']}/{s['expected_deliveries']} "
            f"({s['deliveries_per_s']}/s), loss {s['loss']:.3%} ({s['lost']} lost after a "
            f"{s['drain_seconds']} s drain; {s['late']} late, over {s['late_after_s']:g} s)",
        ),
        (
            "generator",
            f"{s['generator_errors']} errors of the load generator itself, "
            f"{s['generator_cpu_us_per_delivery']} µs CPU/delivery",
        ),
        (
            "latency ms",
            f"p50 {s['p50_ms']}  p90 {s['p90_ms']}  p99 {s['p99_ms']}  "
            f"p99.9 {s['p999_ms']}  max {s['max_ms']}",
        ),
        ("close codes", ", ".join(f"{k}: {v}" for k, v in sorted(s["close_codes"].items())) or "-"),
    ]
    if "server" in s:
        srv = s["server"]
        rows.append(
            (
                "server",
                f"{srv['rss_per_socket_kb']} KB/socket, "
                f"{srv['cpu_us_per_delivery']} µs CPU/delivery",
            )
        )
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}", file=out)


def _stopped(signum: int, frame: Any) -> None:
    raise SystemExit(f"inviaro loadtest: stopped by signal {signum}")


def main(args: argparse.Namespace) -> int:
    # SIGTERM unwinds like Ctrl-C: the generator processes are told to stop and joined.
    signal.signal(signal.SIGTERM, _stopped)
    summary = run(args)
    print_summary(summary)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(summary, f, indent=2)
    return 0 if summary["connect_errors"] == 0 else 1
