"""Scenarios A to I against the hub and two Socket.IO peers, in one sitting.

    .venv/bin/python bench/run.py            # 3 interleaved runs, about 20 minutes
    .venv/bin/python bench/run.py --quick    # 1 small run, about 3 minutes

It creates a scratch Postgres database (dropped at the end) and starts a private
``redis-server`` on a spare loopback port. Each run starts two fresh ``inviaro serve``
processes (Postgres + Redis), drives the scenarios with ``inviaro loadtest`` (``--procs``
generator processes) and stops them; then does the same with two python-socketio servers
(target ``socketio``: ``bench/sio_server.py``, AsyncRedisManager) and with two Node
socket.io servers (target ``node``: ``bench/node_sio/server.js``, the Redis adapter), both
on the same Redis and driven by the same load client. ``--targets`` picks some (default:
all three). A peer that cannot run here is skipped with a line saying why: python-socketio
needs ``pip install -e '.[bench]'``; Node needs ``node`` and ``npm``, and the first use
runs ``npm ci --prefix bench/node_sio`` (the committed lockfile's exact versions).

A: idle sockets over both processes; B: one big room as fast as acked; C: many rooms at
a steady rate; G: C at twice the rate; E: as many idle sockets as the open-files limit
allows on ONE process; F (flat cost): a steady load on a small room, alone and beside
many idle sockets in many rooms (alone, beside, beside, alone), reporting how much the
CPU per delivery grew, also net of what the idle sockets cost by themselves. D (durable
ingest), H and I are the hub's alone (the peers have no ingest door). H (C' in the
issue): one message per ingest request at a fixed rate into ONE hub process, every
message from a new contact, as channel webhooks arrive (p50/p99 acknowledgement, late
and lost apart, server CPU per request); I: the highest rate of such requests with p99
under 50 ms and nothing refused, late or lost:

    .venv/bin/python bench/run.py --only H --targets inviaro    # C' alone, about 1 minute

It prints medians over the runs and the hub's ratios to python-socketio and to Node
(bench/table.py). The targets' order rotates between runs, so each target opens and
closes a run in turn. Every server's log, every scenario's raw JSON and the table go to
``bench/results/<time>/`` (the JSON and the table are small and committed; logs are
not). Only 127.0.0.1 is ever contacted; every process it started is ended by its pid.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import stages  # bench/stages.py, beside this script
from table import LABELS, render  # bench/table.py, beside this script

from web.loadtest import cpu_seconds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-key-that-is-long-enough-0123456789abcdef"
NODE_DIR = HERE / "node_sio"

FULL = {
    "runs": 3,
    "A": {"operators": 4000},
    "B": {"operators": 1000, "visitors": 4, "window": 8, "duration": 6},
    "C": {"operators": 2000, "rooms": 100, "rate": 1000, "duration": 10},
    "D": {"duration": 8, "concurrency": 8, "batch": 100},
    "Dc": {"duration": 8, "concurrency": 32, "batch": 5, "contacts": 0},
    "F": {"operators": 300, "visitors": 2, "rate": 60, "duration": 5, "idle": 2000, "rooms": 200},
    "E": {"operators": 20000},
    "G": {"operators": 2000, "rooms": 100, "rate": 2000, "duration": 10},
    "H": {"rate": 1000, "duration": 10, "connections": 64},
    "I": {"duration": 5, "connections": 64},
}
QUICK = {
    "runs": 1,
    "A": {"operators": 1000},
    "B": {"operators": 300, "visitors": 4, "window": 8, "duration": 4},
    "C": {"operators": 500, "rooms": 50, "rate": 500, "duration": 5},
    "D": {"duration": 4, "concurrency": 8, "batch": 100},
    "Dc": {"duration": 4, "concurrency": 32, "batch": 5, "contacts": 0},
    "F": {"operators": 200, "visitors": 2, "rate": 40, "duration": 3, "idle": 500, "rooms": 50},
    "E": {"operators": 3000},
    "G": {"operators": 500, "rooms": 50, "rate": 1000, "duration": 5},
    "H": {"rate": 1000, "duration": 5, "connections": 64},
    "I": {"duration": 3, "connections": 64},
}
# A process can hold no more sockets than its open-files hard limit allows (a few files
# go to the database, Redis and the listener).
FILES_LIMIT = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def protocol(target: str) -> str:
    """The load client's wire protocol for a target: both peers speak Socket.IO v5."""
    return "inviaro" if target == "inviaro" else "socketio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


class Procs:
    """Every process this bench started, ended by pid (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.started)):
            self.stop(proc)


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def unavailable(target: str) -> str | None:
    """Why ``target`` cannot run here, or None. Installs the Node server's packages
    (``npm ci``, from its committed lockfile) the first time."""
    if target == "socketio":
        try:
            import socketio  # noqa: F401
        except ImportError:
            return "python-socketio is not installed (pip install -e '.[bench]')"
    if target == "node":
        missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
        if missing:
            return f"{' and '.join(missing)} not found on PATH (Node 18 or later is needed)"
        if not (NODE_DIR / "node_modules").is_dir():
            print("bench: npm ci --prefix bench/node_sio (first use)", file=sys.stderr)
            try:
                done = subprocess.run(
                    ["npm", "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
            except subprocess.TimeoutExpired:
                return "npm ci --prefix bench/node_sio took over 10 minutes"
            if done.returncode != 0:
                last = (done.stderr or done.stdout).strip().splitlines()[-1:]
                return f"npm ci --prefix bench/node_sio failed: {' '.join(last)}"
    return None


def peer_versions(targets: list[str]) -> str:
    """The versions of the peers that ran, for the table's heading."""
    versions = []
    if "socketio" in targets:
        versions.append(f"python-socketio {importlib.metadata.version('python-socketio')}")
    package = NODE_DIR / "node_modules" / "socket.io" / "package.json"
    if "node" in targets and package.exists() and (node := shutil.which("node")):
        done = subprocess.run([node, "--version"], capture_output=True, text=True)
        socket_io = json.loads(package.read_text())["version"]
        versions.append(f"Node {done.stdout.strip()} socket.io {socket_io}")
    return ", ".join(versions) or "none"


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", PG_ADMIN, "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _us_per_delivery(runs: list[dict[str, Any]], upkeep_per_s: float = 0.0) -> float | None:
    """The servers' CPU per delivery over several load runs together, less ``upkeep_per_s``
    CPU seconds a second over each run's window (go to the end of the drain)."""
    deliveries = sum(s["deliveries"] for s in runs)
    if not deliveries:
        return None
    cpu = sum(
        s["server"]["cpu_seconds"] - upkeep_per_s * (s["send_seconds"] + s["drain_seconds"])
        for s in runs
    )
    return round(cpu / deliveries * 1e6, 2)


class Bench:
    def __init__(self, args: argparse.Namespace, targets: list[str]) -> None:
        self.args = args
        self.targets = targets
        self.plan = QUICK if args.quick else FULL
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.out = HERE / "results" / stamp
        self.out.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="inviaro-bench-"))
        self.procs = Procs()
        self.db = f"inviaro_bench_{uuid.uuid4().hex[:10]}"
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.redis: subprocess.Popen[bytes] | None = None
        self.results: dict[str, dict[str, list[float]]] = {t: {} for t in targets}

    # --- infrastructure ---------------------------------------------------------------

    def setup(self) -> None:
        psql(f'CREATE DATABASE "{self.db}"')
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("bench: redis-server is not installed")
        self.redis = self.procs.start(
            [
                binary,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            dict(os.environ),
            self.tmp / "redis.log",
        )
        time.sleep(0.3)

    def teardown(self) -> None:
        self.procs.stop_all()
        try:
            psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        except subprocess.CalledProcessError:
            print(f"bench: could not drop database {self.db}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_hubs(self) -> list[tuple[str, subprocess.Popen[bytes]]]:
        hubs = []
        for _ in range(2):
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.db}",
                "REDIS_URL": self.redis_url,
                "INVIARO_SECRET_KEY": SECRET,
                "INVIARO_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "INVIARO_MESSAGES_PER_10S": "1000000",
                # H and I send every request to one channel: its default budget (1,000
                # requests a second) would refuse I's steps past 1,000/s, not the CPU.
                "INVIARO_LIMIT_CHANNEL_REQUESTS": "100000/1s",
                "PYTHONUNBUFFERED": "1",
            }
            cmd = [
                sys.executable,
                "-m",
                "web.cli",
                "--log-level",
                "warning",
                "serve",
                "--port",
                str(port),
            ]
            log = self.out / f"hub-{port}.log"  # kept: warnings explain losses
            proc = self.procs.start(cmd, env, log)
            wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)  # the first one migrates
            hubs.append((f"http://127.0.0.1:{port}", proc))
        return hubs

    def start_peer(self, target: str) -> list[tuple[str, subprocess.Popen[bytes]]]:
        """Two servers of a Socket.IO peer on the private Redis."""
        servers = []
        for _ in range(2):
            port = free_port()
            if target == "node":
                program = [shutil.which("node") or "node", str(NODE_DIR / "server.js")]
                log = self.out / f"node-{port}.log"  # kept beside the hubs' logs
            else:
                program = [sys.executable, str(HERE / "sio_server.py")]
                log = self.out / f"sio-{port}.log"
            proc = self.procs.start([*program, str(port), self.redis_url], dict(os.environ), log)
            wait_http(f"http://127.0.0.1:{port}/ready", proc, log)  # a 404: it answers
            servers.append((f"http://127.0.0.1:{port}", proc))
        return servers

    # --- scenarios --------------------------------------------------------------------

    def loadtest(
        self, target: str, servers: list[tuple[str, Any]], name: str, run: int, **kw: Any
    ) -> dict[str, Any]:
        out = self.out / f"{name}-{target}-{run}.json"
        cmd = [
            sys.executable,
            "-m",
            "web.cli",
            "loadtest",
            "--quiet",
            "--json",
            str(out),
            "--protocol",
            protocol(target),
            "--procs",
            "2",
        ]
        for url, proc in servers:
            cmd += ["--url", url, "--server-pid", str(proc.pid)]
        for key, value in kw.items():
            cmd += [f"--{key}", str(value)]
        pids = {"redis": [self.redis.pid] if self.redis else [], "postgres": postgres_pids()}
        before = {p: cpu_seconds(p) for v in pids.values() for p in v}
        gen_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        log = self.out / f"{name}-{target}-{run}.log"
        with log.open("w") as err:
            tester = subprocess.Popen(cmd, cwd=ROOT, stdout=err, stderr=subprocess.STDOUT)
        self.procs.started.append(tester)  # type: ignore[arg-type]
        try:
            tester.wait(900)
        finally:  # interrupted: SIGTERM, so the load tester stops its generators itself
            self.procs.stop(tester)  # type: ignore[arg-type]
        gen_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if not out.exists():
            raise RuntimeError(f"loadtest {name} {target} failed:\n{log.read_text()[-3000:]}")
        summary: dict[str, Any] = json.loads(out.read_text())
        after = {p: cpu_seconds(p) for v in pids.values() for p in v}
        summary["cpu_seconds"] = {  # backends that exited meanwhile are not counted
            k: round(sum(after[p] - before[p] for p in v if after[p]), 2) for k, v in pids.items()
        }
        summary["cpu_seconds"]["generator"] = round(
            gen_after.ru_utime + gen_after.ru_stime - gen_before.ru_utime - gen_before.ru_stime, 2
        )
        out.write_text(json.dumps(summary, indent=2))
        return summary

    def hold_idle(self, target: str, servers: list[tuple[str, Any]], run: int) -> Any:
        """Scenario F's background: idle operator sockets in many rooms, held open until
        stopped. Returns once every one is connected."""
        p = self.plan["F"]
        cmd = [sys.executable, "-m", "web.cli", "loadtest", "--protocol", protocol(target)]
        cmd += ["--operators", str(p["idle"]), "--rooms", str(p["rooms"]), "--visitors", "0"]
        cmd += ["--duration", "600", "--procs", "1", "--connect-concurrency", "200"]
        for url, _ in servers:
            cmd += ["--url", url]
        log = self.out / f"F-idle-{target}-{run}.log"
        holder = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.procs.started.append(holder)  # type: ignore[arg-type]
        assert holder.stderr is not None
        with log.open("w") as out:
            for line in holder.stderr:
                out.write(line)
                if "all sockets open" in line:
                    return holder
        raise RuntimeError(f"idle holder for F exited:\n{log.read_text()[-3000:]}")

    def record(self, target: str, key: str, value: float | None) -> None:
        if value is not None:
            self.results[target].setdefault(key, []).append(float(value))

    def sockets(self, name: str) -> int:
        """Scenario ``name``'s idle sockets, within what one process may hold."""
        return min(self.plan[name]["operators"], FILES_LIMIT - 100)

    def scenario_idle(self, target: str, servers: Any, run: int, name: str) -> None:
        """Idle sockets: A over every server process, E on ONE."""
        if name == "E":
            servers = servers[:1]
        s = self.loadtest(
            target,
            servers,
            name,
            run,
            operators=self.sockets(name),
            visitors=0,
            rate=1,
            duration=1,
            **{"connect-concurrency": 200},
        )
        self.record(target, f"{name}_sockets", s["subscribers"])
        self.record(target, f"{name}_kb_per_socket", s["server"]["rss_per_socket_kb"])
        self.record(target, f"{name}_connect_s", s["connect_seconds"])
        self.record(target, f"{name}_errors", s["connect_errors"])
        self.say(
            target,
            name,
            f"{s['subscribers']} sockets on {len(servers)} process(es) in "
            f"{s['connect_seconds']} s, {s['server']['rss_per_socket_kb']} KB/socket, "
            f"errors {s['connect_errors']}",
        )

    def scenario_b(self, target: str, servers: Any, run: int) -> None:
        p = self.plan["B"]
        s = self.loadtest(
            target,
            servers,
            "B",
            run,
            operators=p["operators"],
            visitors=p["visitors"],
            rate=0,
            window=p["window"],
            duration=p["duration"],
        )
        self.record(target, "B_us_per_delivery", s["server"]["cpu_us_per_delivery"])
        self.record(target, "B_deliveries_per_s", s["deliveries_per_s"])
        self.record(target, "B_loss", s["loss"])
        self.say(
            target,
            "B",
            f"{s['deliveries_per_s']} deliveries/s, "
            f"{s['server']['cpu_us_per_delivery']} µs CPU/delivery, loss {s['loss']:.2%}, "
            f"cpu {s['cpu_seconds']} hubs {s['server']['cpu_seconds']}",
        )

    def stage_breakdown(
        self, target: str, name: str, run: int, before: Any, urls: list[str]
    ) -> None:
        """The hub's latency histograms over one scenario: p50/p99 per stage, in ms."""
        found = stages.breakdown(before, stages.scrape(urls))
        (self.out / f"{name}-{target}-{run}-stages.json").write_text(json.dumps(found, indent=2))
        self.say(target, name, f"stages p50/p99 ms: {stages.render(found)}")

    def scenario_c(self, target: str, servers: Any, run: int, name: str = "C") -> None:
        p = self.plan[name]
        urls = [url for url, _ in servers]
        before = stages.scrape(urls) if target == "inviaro" else None
        s = self.loadtest(
            target,
            servers,
            name,
            run,
            operators=p["operators"],
            rooms=p["rooms"],
            visitors=p["rooms"],
            rate=p["rate"],
            duration=p["duration"],
        )
        for key in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
            self.record(target, f"{name}_{key}", s[key])
        self.record(target, f"{name}_loss", s["loss"])
        self.record(target, f"{name}_late", s["late"])
        self.record(target, f"{name}_generator_errors", s["generator_errors"])
        self.record(target, f"{name}_acked_per_s", s["acked_per_s"])
        self.say(
            target,
            name,
            f"acked {s['acked_per_s']}/s, p50 {s['p50_ms']} ms, p99 "
            f"{s['p99_ms']} ms, loss {s['loss']:.2%} ({s['lost']} lost, {s['late']} late), "
            f"generator errors {s['generator_errors']}, cpu {s['cpu_seconds']} hubs "
            f"{s['server']['cpu_seconds']}",
        )
        if before is not None:
            self.stage_breakdown(target, name, run, before, urls)

    def scenario_f(self, target: str, servers: Any, run: int) -> None:
        """Flat cost: a steady load on a small room, alone and beside many idle sockets in
        many rooms; the CPU per delivery should not move.

        The load is a fixed rate, not "as fast as acked": there the CPU per delivery
        follows the throughput reached (more frames per socket per loop turn cost less
        each), which follows whatever else the machine runs, so one alone/beside pair
        differed by up to 30% either way with nothing changed. The phases run alone,
        beside, beside, alone, so a drift over the run (the idle sockets' sign-ups take
        minutes) falls on both sides alike."""
        p = self.plan["F"]
        load = {k: p[k] for k in ("operators", "visitors", "rate", "duration")}
        alone = [self.loadtest(target, servers, "F1-alone", run, **load)]
        holder = self.hold_idle(target, servers, run)
        try:
            # What the idle sockets cost by themselves (heartbeats, pings, presence), per
            # second with no load: the same upkeep runs during the load, so it is taken off.
            pids = [proc.pid for _, proc in servers]
            before = sum(cpu_seconds(pid) for pid in pids)
            time.sleep(p["duration"])
            upkeep_per_s = (sum(cpu_seconds(pid) for pid in pids) - before) / p["duration"]
            beside = [self.loadtest(target, servers, f"F{i}-beside", run, **load) for i in (2, 3)]
        finally:
            self.procs.stop(holder)  # type: ignore[arg-type]
        time.sleep(2)  # the idle sockets' goodbyes (presence, sessions) are not the load's
        alone.append(self.loadtest(target, servers, "F4-alone", run, **load))
        a, b = _us_per_delivery(alone), _us_per_delivery(beside)
        net = _us_per_delivery(beside, upkeep_per_s)
        self.record(target, "F_us_alone", a)
        self.record(target, "F_us_beside", b)
        self.record(target, "F_upkeep_ms_per_s", upkeep_per_s * 1000)
        self.record(target, "F_growth", b / a if a and b else None)
        self.record(target, "F_net_growth", net / a if a and net else None)
        self.say(
            target,
            "F",
            f"{a} µs/delivery alone, {b} beside {p['idle']} idle sockets ({net} net of "
            f"their upkeep, {upkeep_per_s * 1000:.1f} ms CPU/s); per phase "
            + " ".join(
                str(s["server"]["cpu_us_per_delivery"]) for s in (alone[0], *beside, alone[1])
            ),
        )

    def scenario_d(self, servers: Any, run: int, name: str = "D") -> None:
        """D: durable ingest; Dc: the same with cold contacts (every message from a sender
        never seen) and small batches, as webhooks bring them."""
        p = self.plan[name]
        out = self.out / f"{name}-inviaro-{run}.json"
        cmd = [
            sys.executable,
            str(HERE / "ingest.py"),
            "--json",
            str(out),
            "--duration",
            str(p["duration"]),
            "--concurrency",
            str(p["concurrency"]),
            "--batch",
            str(p["batch"]),
            "--contacts",
            str(p.get("contacts", 500)),
        ]
        for url, _ in servers:
            cmd += ["--url", url]
        urls = [url for url, _ in servers]
        before = stages.scrape(urls)
        pg = postgres_pids()
        pg_before = sum(cpu_seconds(x) for x in pg)
        hubs_before = sum(cpu_seconds(proc.pid) for _, proc in servers)
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        if not out.exists():
            raise RuntimeError(f"ingest bench failed:\n{done.stderr[-3000:]}")
        s = json.loads(out.read_text())
        s["cpu_seconds"] = {
            "postgres": round(sum(cpu_seconds(x) for x in pg) - pg_before, 2),
            "hubs": round(sum(cpu_seconds(proc.pid) for _, proc in servers) - hubs_before, 2),
        }
        out.write_text(json.dumps(s, indent=2))
        self.record("inviaro", f"{name}_msgs_per_s", s["messages_per_s"])
        self.record("inviaro", f"{name}_commit_p99_ms", s["commit_p99_ms"])
        self.record("inviaro", f"{name}_accept_p99_ms", s["accept_p99_ms"])
        self.record("inviaro", f"{name}_backlog", s["backlog_end"])
        self.say(
            "inviaro",
            name,
            f"{s['messages_per_s']} msg/s, commit p99 "
            f"{s['commit_p99_ms']} ms, accept p50/p99 {s['accept_p50_ms']}/{s['accept_p99_ms']} "
            f"ms, batch {s['mean_batch']}, cpu {s['cpu_seconds']}",
        )
        self.stage_breakdown("inviaro", name, run, before, urls)

    def scenario_h(self, servers: Any, run: int) -> None:
        """C': one message per ingest request at a fixed rate, on ONE hub process."""
        p = self.plan["H"]
        s = self.ingest_rate(servers[:1], f"H-inviaro-{run}", ["--rate", str(p["rate"])], p)
        for key in ("p50_ms", "p99_ms", "late", "lost", "refused", "server_cpu_us_per_request"):
            self.record("inviaro", f"H_{key}", s[key])
        self.say(
            "inviaro",
            "H",
            f"{s['rate']:.0f} req/s: acked {s['acked']}, late {s['late']}, lost {s['lost']}, "
            f"refused {s['refused']}; p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms; "
            f"{s['server_cpu_us_per_request']} µs server CPU/request, generator errors "
            f"{s['generator_errors']}",
        )

    def scenario_i(self, servers: Any, run: int) -> None:
        """Ingest requests/s at p99 < 50 ms on ONE process, nothing refused, late or lost."""
        p = self.plan["I"]
        s = self.ingest_rate(servers[:1], f"I-inviaro-{run}", ["--search"], p)
        self.record("inviaro", "I_best_rate", s["best_rate_p99_under_50ms"])
        self.say("inviaro", "I", f"{s['best_rate_p99_under_50ms']} req/s at p99 < 50 ms")

    def ingest_rate(
        self, servers: Any, name: str, extra: list[str], p: dict[str, Any]
    ) -> dict[str, Any]:
        out = self.out / f"{name}.json"
        cmd = [sys.executable, str(HERE / "ingest_rate.py"), "--json", str(out)]
        cmd += ["--duration", str(p["duration"]), "--connections", str(p["connections"]), *extra]
        for url, proc in servers:
            cmd += ["--url", url, "--server-pid", str(proc.pid)]
        log = self.out / f"{name}.log"
        with log.open("w") as err:
            done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, timeout=900)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"ingest_rate {name} failed:\n{log.read_text()[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result

    def say(self, target: str, name: str, text: str) -> None:
        print(f"  {name} {target:<8} {text}", file=sys.stderr, flush=True)

    def run(self) -> None:
        only = set(self.args.only or "ABCDEFGHI")
        for run in range(1, self.plan["runs"] + 1):
            print(f"run {run}/{self.plan['runs']}", file=sys.stderr, flush=True)
            # Rotate, so no target always runs first (or last) on a warmer machine.
            shift = (run - 1) % len(self.targets)
            for target in self.targets[shift:] + self.targets[:shift]:
                servers = self.start_hubs() if target == "inviaro" else self.start_peer(target)
                try:
                    if "A" in only:
                        self.scenario_idle(target, servers, run, "A")
                    if "B" in only:
                        self.scenario_b(target, servers, run)
                    if "C" in only:
                        self.scenario_c(target, servers, run)
                    if "G" in only:
                        self.scenario_c(target, servers, run, "G")
                    if "D" in only and target == "inviaro":
                        self.scenario_d(servers, run)
                        self.scenario_d(servers, run, "Dc")
                    if "H" in only and target == "inviaro":
                        self.scenario_h(servers, run)
                    if "I" in only and target == "inviaro":
                        self.scenario_i(servers, run)
                    if "F" in only:
                        self.scenario_f(target, servers, run)
                    if "E" in only:  # last: it leaves the most behind
                        self.scenario_idle(target, servers, run, "E")
                finally:
                    for _, proc in servers:
                        self.procs.stop(proc)

    def table(self, command: str, elapsed: float) -> str:
        runs = self.plan["runs"]
        facts = (
            f"command: {command}\nmachine: {os.cpu_count()} cores (nproc), "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; peers: {peer_versions(self.targets)}; "
            f"medians of {runs} run(s), interleaved; 2 server processes each, one Redis, "
            f"generator --procs 2 on the same machine; {elapsed:.0f} s\n"
        )
        return facts + render(self.results, self.plan, self.sockets("E"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one small run (a 3-minute smoke)")
    p.add_argument("--runs", type=int, help="runs per scenario (default 3, --quick 1)")
    p.add_argument("--only", help="scenarios to run, e.g. AB (default ABCDEFGHI)")
    p.add_argument(
        "--targets",
        default=",".join(LABELS),
        help=f"servers to run, of {','.join(LABELS)} (default: all three)",
    )
    args = p.parse_args()
    targets = []
    for target in args.targets.split(","):
        if target not in LABELS:
            raise SystemExit(f"bench: unknown target {target!r} (known: {', '.join(LABELS)})")
        if reason := unavailable(target):
            print(f"bench: skipping target {target}: {reason}", file=sys.stderr, flush=True)
        else:
            targets.append(target)
    if not targets:
        raise SystemExit("bench: no target left to run")
    bench = Bench(args, targets)
    if args.runs:
        bench.plan = {**bench.plan, "runs": args.runs}
    command = " ".join([Path(sys.executable).name, "bench/run.py", *sys.argv[1:]])
    started = time.monotonic()

    def interrupted(signum: int, frame: Any) -> None:
        raise SystemExit(f"bench: signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    bench.setup()
    try:
        bench.run()
    finally:
        bench.teardown()
    table = bench.table(command, time.monotonic() - started)
    (bench.out / "table.txt").write_text(table + "\n")
    (bench.out / "results.json").write_text(json.dumps(bench.results, indent=2))
    print(table)
    warnings = [
        f"{log.name}: {line}"
        for log in sorted(bench.out.glob("hub-*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if " WARNING " in line or " ERROR " in line
    ]
    if warnings:
        print(
            f"\nthe hubs logged {len(warnings)} warnings or errors, e.g.:", *warnings[:5], sep="\n"
        )
    peer_lines = [  # the peers log only warnings and errors
        f"{log.name}: {line}"
        for pattern in ("sio-*.log", "node-*.log")
        for log in sorted(bench.out.glob(pattern))
        for line in log.read_text(errors="replace").splitlines()
        if line.strip()
    ]
    if peer_lines:
        print(f"\nthe peers logged {len(peer_lines)} lines, e.g.:", *peer_lines[:5], sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
