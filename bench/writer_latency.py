"""The writer alone: where a persisted message's milliseconds go, without sockets or bus.

    .venv/bin/python bench/writer_latency.py --rate 500 --duration 10 --rooms 100

Creates a scratch Postgres database (dropped at the end), one workspace and ``--rooms``
conversations, then writes ``--rate`` messages a second into them for ``--duration``
seconds, each from its own task, as visitor sockets do (open loop: a slow commit does not
slow the senders). Reports per message: the time to durable (what an ack waits for), its
wait in the queue, its batch's transaction and, inside that, each step, ``BEGIN`` and the
``COMMIT`` alone (the WAL flush); the mean batch; and the CPU per message of this process
and of this database's Postgres backends. ``synchronous_commit`` is the server's (on:
durable means flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch_writer import scratch_workspace  # bench/, beside this script

from hub.model import Author, Inbound
from storage.store import SqlStore
from storage.writer_postgres import PostgresWriterSql

CONTACT = Author("contact", None, "Ann")


def cpu_s(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each of these processes (those that are gone are left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


async def backends(admin: asyncpg.Connection, db: str) -> list[int]:
    """The server processes of this database's sessions (the writer's among them); the
    machine's other Postgres users are not counted."""
    rows = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", db)
    return [r["pid"] for r in rows]


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50_ms": round(pick(0.5) * 1000, 2),
        "p99_ms": round(pick(0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2),
    }


def time_commits(begins: list[float], commits: list[float]) -> None:
    """Time the writer's BEGIN and COMMIT (the fsync) by wrapping its transaction."""
    original = PostgresWriterSql.transaction

    @asynccontextmanager
    async def timed(self: PostgresWriterSql, conn: AsyncConnection) -> AsyncIterator[None]:
        raw = (await conn.get_raw_connection()).driver_connection
        started = time.perf_counter()
        await raw.execute("BEGIN")
        begins.append(time.perf_counter() - started)
        yield
        started = time.perf_counter()
        await raw.execute("COMMIT")
        commits.append(time.perf_counter() - started)

    if getattr(original, "__wrapped__", None) is not None:  # a simple context manager
        PostgresWriterSql.transaction = timed  # type: ignore[method-assign]


def time_steps(steps: dict[str, list[float]]) -> None:
    """Time each step of the writer's transaction (its statements) by wrapping it."""
    from storage import writer as w

    def timed(name: str, step: Any) -> Any:
        async def run(*args: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return await step(*args, **kw)
            finally:
                steps.setdefault(name, []).append(time.perf_counter() - started)

        return run

    for name in (
        "_drop_erased",  # before issue 20's one lookup
        "_earlier_copies",
        "_open_reservations",
        "_look_up",
        "_resolve_conversations",
        "_lock_conversations",
        "_transaction",
    ):
        if hasattr(w.BatchingWriter, name):
            setattr(w.BatchingWriter, name, timed(name, getattr(w.BatchingWriter, name)))
    for name in ("write_plan", "connect"):
        setattr(PostgresWriterSql, name, timed(name, getattr(PostgresWriterSql, name)))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with scratch_workspace("inviaro_writer_bench") as s:
        admin, db, engine = s.admin, s.db, s.engine
        ws_id, channel = s.workspace_id, s.channel_id
        batches: list[tuple[int, float, list[float]]] = []  # size, transaction, waits

        def observe(*seen: Any) -> None:
            """A group commit: (committed) since its waits are observed, (size, seconds)
            before (measuring the hub as it was)."""
            if len(seen) == 1:
                batches.append((seen[0].size, seen[0].seconds, seen[0].waits))
            else:
                batches.append((seen[0], seen[1], []))

        begins: list[float] = []
        commits: list[float] = []
        time_commits(begins, commits)
        steps: dict[str, list[float]] = {}
        time_steps(steps)
        store = SqlStore(engine, observe=observe)
        base = {"workspace_id": ws_id, "channel_id": channel, "direction": "in", "author": CONTACT}
        rooms = [
            (await store.write(Inbound(**base, text="hi", contact_external_id=f"+49{n}"))).message
            for n in range(args.rooms)
        ]
        batches.clear()
        begins.clear()
        commits.clear()
        steps.clear()
        latencies: list[float] = []

        async def send(n: int) -> None:
            conv = rooms[n % len(rooms)].conversation_id
            started = time.perf_counter()
            await store.write(Inbound(**base, text=f"m{n}", conversation_id=conv, client_id=str(n)))
            latencies.append(time.perf_counter() - started)

        total = int(args.rate * args.duration)
        pids = await backends(admin, db)
        cpu, pg = time.process_time(), cpu_s(pids)
        began = time.perf_counter()
        tasks = []
        for n in range(total):
            due = began + n / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
        after = cpu_s(pids)
        cpu, pg_s = time.process_time() - cpu, sum(after[p] - pg[p] for p in after if p in pg)
        await store.close()
        return {
            "rate": args.rate,
            "messages": total,
            "elapsed_s": round(elapsed, 2),
            "durable": quantiles(latencies),
            "queue": quantiles([w for _, _, waits in batches for w in waits]),
            "transaction": quantiles([seconds for _, seconds, _ in batches]),
            "begin_statement": quantiles(begins),
            "commit_statement": quantiles(commits),
            "steps": {k: quantiles(v) for k, v in steps.items()},
            "batches": len(batches),
            "mean_batch": round(total / max(1, len(batches)), 1),
            "cpu_us_per_message": round(cpu / total * 1e6, 1),
            "postgres_cpu_us_per_message": round(pg_s / total * 1e6, 1),
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=float, default=500)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--rooms", type=int, default=100)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
