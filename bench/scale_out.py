"""Fan-out across more hub processes: two against four, on one Redis and on a Redis Cluster.

    .venv/bin/python bench/scale_out.py                    # 2 runs of each, about 8 minutes
    .venv/bin/python bench/scale_out.py --runs 1 --hubs 4 --bus cluster

For each bus (a private ``redis-server``, or a private three-master Redis Cluster with three
replicas, ``tests/system/redis_cluster.py``) and each number of hub processes, it starts
fresh ``inviaro serve`` processes on a scratch Postgres database and drives two scenarios of
``inviaro loadtest`` over all of them (operators and visitors spread round-robin, so most
deliveries cross processes through the bus):

- C: operators in many rooms, visitors sending at a steady rate: p50/p99 from send to
  delivery, loss, hubs' CPU per delivery;
- B: one room of operators, visitors sending as fast as acked: deliveries/s and the hubs'
  CPU per delivery (all hub processes together).

The configurations' order alternates between runs; it prints the median of the runs per
configuration (with the machine's load average as each began: on a shared machine the
latencies follow it more than the configuration) and writes the raw JSON and the table
to ``bench/results/<time>-scale-out/``.
Only 127.0.0.1 is contacted; every process it started is ended by its pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from run import HERE, ROOT, SECRET, Procs, free_port, psql, wait_http

sys.path.insert(0, str(ROOT))

from tests.system.redis_cluster import RedisClusterServers

PLAN = {
    "C": {"operators": 1000, "rooms": 50, "visitors": 50, "rate": 500, "duration": 8},
    "B": {"operators": 400, "rooms": 1, "visitors": 4, "rate": 0, "window": 8, "duration": 5},
}


class Bus:
    """A private single Redis or Redis Cluster for one configuration."""

    def __init__(self, kind: str, tmp: Path, procs: Procs) -> None:
        self.kind = kind
        self.tmp = tmp / kind
        self.tmp.mkdir(parents=True)
        self.procs = procs
        self.cluster: RedisClusterServers | None = None
        self.url = ""

    def start(self) -> None:
        if self.kind == "cluster":
            self.cluster = RedisClusterServers(self.tmp)
            self.cluster.start()
            self.url = self.cluster.url
            return
        port = free_port()
        binary = shutil.which("redis-server") or "redis-server"
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        self.procs.start(
            [*args, "--appendonly", "no", "--dir", str(self.tmp)], {}, self.tmp / "log"
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        time.sleep(0.3)

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


def start_hubs(n: int, db: str, redis_url: str, procs: Procs, out: Path) -> list[Any]:
    hubs = []
    for _ in range(n):
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}",
            "REDIS_URL": redis_url,
            "INVIARO_SECRET_KEY": SECRET,
            "INVIARO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "INVIARO_MESSAGES_PER_10S": "1000000",
            "PYTHONUNBUFFERED": "1",
        }
        cmd = [sys.executable, "-m", "web.cli", "--log-level", "warning", "serve"]
        log = out / f"hub-{port}.log"
        proc = procs.start([*cmd, "--port", str(port)], env, log)
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)  # the first one migrates
        hubs.append((f"http://127.0.0.1:{port}", proc))
    return hubs


def loadtest(hubs: list[Any], name: str, out: Path, procs: Procs) -> dict[str, Any]:
    summary_file = out / f"{name}.json"
    cmd = [sys.executable, "-m", "web.cli", "loadtest", "--quiet", "--json", str(summary_file)]
    cmd += ["--procs", "2"]
    for url, proc in hubs:
        cmd += ["--url", url, "--server-pid", str(proc.pid)]
    for key, value in PLAN[name].items():
        cmd += [f"--{key}", str(value)]
    with (out / f"{name}.log").open("w") as err:
        tester = subprocess.Popen(cmd, cwd=ROOT, stdout=err, stderr=subprocess.STDOUT)
    procs.started.append(tester)  # type: ignore[arg-type]
    try:
        tester.wait(300)
    finally:
        procs.stop(tester)  # type: ignore[arg-type]
    if not summary_file.exists():
        raise RuntimeError(f"loadtest {name} failed:\n{(out / f'{name}.log').read_text()[-3000:]}")
    summary: dict[str, Any] = json.loads(summary_file.read_text())
    return summary


def one_configuration(kind: str, n: int, out: Path, tmp: Path) -> dict[str, float]:
    procs = Procs()
    db = f"inviaro_bench_{uuid.uuid4().hex[:10]}"
    bus = Bus(kind, tmp / f"{kind}-{n}-{uuid.uuid4().hex[:6]}", procs)
    psql(f'CREATE DATABASE "{db}"')
    figures: dict[str, float] = {}
    load = os.getloadavg()[0]  # the machine's other work: figures under load mean little
    try:
        bus.start()
        hubs = start_hubs(n, db, bus.url, procs, out)
        c = loadtest(hubs, "C", out, procs)
        b = loadtest(hubs, "B", out, procs)
        figures = {
            "C_p50_ms": c["p50_ms"],
            "C_p99_ms": c["p99_ms"],
            "C_loss": c["loss"],
            "C_us_per_delivery": c["server"]["cpu_us_per_delivery"],
            "B_deliveries_per_s": b["deliveries_per_s"],
            "B_us_per_delivery": b["server"]["cpu_us_per_delivery"],
            "B_loss": b["loss"],
            "load_1m": round(load, 1),
        }
    finally:
        procs.stop_all()
        bus.stop()
        psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--hubs", type=int, action="append", help="hub processes (repeatable)")
    parser.add_argument("--bus", choices=["redis", "cluster"], action="append")
    args = parser.parse_args()
    counts, buses = args.hubs or [2, 4], args.bus or ["redis", "cluster"]
    configs = [(kind, n) for kind in buses for n in counts]
    results: dict[str, dict[str, list[float]]] = {f"{k} x{n}": {} for k, n in configs}
    out = HERE / "results" / (time.strftime("%Y%m%d-%H%M%S") + "-scale-out")
    tmp = Path(tempfile.mkdtemp(prefix="inviaro-scale-"))
    started = time.monotonic()
    try:
        for run in range(args.runs):
            for kind, n in configs if run % 2 == 0 else list(reversed(configs)):
                label = f"{kind} x{n}"
                where = out / f"{kind}-{n}-run{run}"
                where.mkdir(parents=True)
                figures = one_configuration(kind, n, where, tmp)
                print(f"run {run} {label}: {figures}", flush=True)
                for key, value in figures.items():
                    if value is not None:
                        results[label].setdefault(key, []).append(float(value))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = render(results, args.runs, time.monotonic() - started)
    print(table)
    (out / "table.md").write_text(table)
    (out / "results.json").write_text(json.dumps(results, indent=2))


def render(results: dict[str, dict[str, list[float]]], runs: int, elapsed: float) -> str:
    c, b = PLAN["C"], PLAN["B"]
    rows = [
        (
            f"C. {c['operators']} operators in {c['rooms']} rooms, {c['rate']} msg/s: p50 (ms)",
            "C_p50_ms",
        ),
        ("C. p99 (ms)", "C_p99_ms"),
        ("C. loss", "C_loss"),
        ("C. hubs' CPU per delivery (µs)", "C_us_per_delivery"),
        (f"B. 1 room of {b['operators']}, as fast as acked: deliveries/s", "B_deliveries_per_s"),
        ("B. hubs' CPU per delivery (µs)", "B_us_per_delivery"),
        ("B. loss", "B_loss"),
        ("load average (1 min) as the configuration began", "load_1m"),
    ]
    labels = list(results)
    lines = [
        f"Medians of {runs} run(s), {os.cpu_count()} cores, {elapsed:.0f} s in all",
        "",
        "| scenario | " + " | ".join(labels) + " |",
        "|---" * (len(labels) + 1) + "|",
    ]
    for title, key in rows:
        cells = []
        for label in labels:
            values = results[label].get(key)
            cells.append(f"{statistics.median(values):g}" if values else "-")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
