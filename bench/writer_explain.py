"""Where a writer batch's Postgres time goes: each statement as Postgres executes it.

    .venv/bin/python bench/writer_explain.py --batch 200 --rounds 50             # D-like
    .venv/bin/python bench/writer_explain.py --batch 33 --rounds 150 --cold      # Dc-like
    .venv/bin/python bench/writer_explain.py --batch 200 --rounds 50 --cpu       # CPU only
    .venv/bin/python bench/writer_explain.py --sql 'DROP INDEX ix_messages_fts'  # a variant

Creates a scratch Postgres database (dropped at the end) with one workspace and channel,
runs ``--sql`` on it (a schema variant; ``{db}`` is its name, for ``ALTER DATABASE``),
then has the writer store one message from each of ``--contacts`` senders (its first
batches, on empty tables: when it plans its statements, as a hub on a fresh database
does), and then ``--rounds`` batches of ``--batch`` messages, each batch's messages handed
over at once so the writer takes them together. Every message names its sender by
external id and carries a provider id, as the ingest API does; ``--cold`` makes every
sender new. The writer's lookup and write run as ``EXPLAIN (ANALYZE, BUFFERS, WAL)`` of
the generic plan its connection uses (the write in place of itself: it writes the same
rows; the lookup once more after itself, in its transaction, so slightly warm), and
``COMMIT`` is timed. Reports per batch, p50/p99/max in ms: each statement's round trip
from Python, Postgres' execution time, the foreign-key triggers' share of it; WAL bytes
and records per message; CPU per message of this process and of the writer's backend.
``--cpu`` runs the statements plainly and reports the CPU alone (EXPLAIN costs some).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch_writer import scratch_workspace  # bench/, beside this script

from hub.model import Author, Inbound
from storage import writer_postgres as wp
from storage.store import SqlStore

CONTACT = Author("contact", None, "Ann")
EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) "


def plan_totals(plan: dict[str, Any]) -> dict[str, float]:
    """WAL written by a plan's writing nodes (each counts the nodes under it; writable
    CTEs run beside the main plan, so the top node alone would miss them)."""
    totals = {"wal_bytes": 0.0, "wal_records": 0.0, "wal_fpi": 0.0}

    def walk(node: dict[str, Any]) -> None:
        if node["Node Type"] in ("ModifyTable", "LockRows"):
            totals["wal_bytes"] += node.get("WAL Bytes", 0)
            totals["wal_records"] += node.get("WAL Records", 0)
            totals["wal_fpi"] += node.get("WAL FPI", 0)
            return
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return totals


class Recorder:
    """Wraps the writer's statements and transaction; keeps one dict per batch."""

    def __init__(self, explaining: bool) -> None:
        self.explaining = explaining
        self.backend = 0  # the writer's Postgres backend process
        self.batches: list[dict[str, Any]] = []
        self.current: dict[str, Any] = {}
        self.plans: dict[str, Any] = {}  # the last plan of each statement
        self.prepared: set[tuple[int, str]] = set()

    async def explain(self, raw: Any, statement: wp._Raw, params: Mapping[str, Any]) -> None:
        """EXPLAIN the statement's generic plan (the writer's ``plan_cache_mode``), made
        on its first run on this connection, as the driver's prepared statement's is."""
        name = "write" if statement.sql == _WRITE.sql else "lookup"
        if (id(raw), name) not in self.prepared:
            await raw.execute(f"PREPARE bench_{name} AS {statement.sql}")
            self.prepared.add((id(raw), name))
        # EXECUTE takes no bound parameters: its arguments go as literals, quoted by the server.
        values = [params[n] for n in statement.names]
        types = [t.name for t in (await raw.prepare(statement.sql)).get_parameters()]
        quote = ", ".join(f"quote_nullable(${n + 1}::{t}::text)" for n, t in enumerate(types))
        literals = await raw.fetchrow(f"SELECT {quote}", *values)
        args = ", ".join(f"{v}::{t}" for v, t in zip(literals, types, strict=True))
        started = time.perf_counter()
        [row] = await raw.fetch(f"{EXPLAIN} EXECUTE bench_{name}({args})")
        wall = time.perf_counter() - started
        [out] = json.loads(row[0]) if isinstance(row[0], str) else row[0]  # a JSON codec
        triggers = out.get("Triggers", [])
        self.plans[name] = out
        self.current[name] = {
            "round_trip_ms": wall * 1000,
            "execution_ms": out["Execution Time"],
            "planning_ms": out["Planning Time"],
            "fk_ms": sum(t["Time"] for t in triggers if t.get("Constraint Name", "")[:3] == "fk_"),
            "fk_calls": sum(t["Calls"] for t in triggers),
            **plan_totals(out["Plan"]),
        }

    def install(self) -> None:
        recorder = self
        original_fetch = wp._Raw.fetch

        async def fetch(self: wp._Raw, raw: Any, params: Mapping[str, Any]) -> list[Any]:
            if not recorder.explaining:
                return await original_fetch(self, raw, params)
            if self.sql == _WRITE.sql:
                await recorder.explain(raw, self, params)
                return []  # the answer: messages that could move a flow (none here)
            rows = await original_fetch(self, raw, params)
            if self.sql == _LOOKUP.sql:
                await recorder.explain(raw, self, params)
            return rows

        @asynccontextmanager
        async def transaction(
            self: wp.PostgresWriterSql, conn: AsyncConnection
        ) -> AsyncIterator[None]:
            raw = self._driver()
            recorder.current = {}
            recorder.backend = recorder.backend or await raw.fetchval("SELECT pg_backend_pid()")
            await raw.execute("BEGIN")
            yield
            started = time.perf_counter()
            await raw.execute("COMMIT")
            recorder.current["commit_ms"] = (time.perf_counter() - started) * 1000
            recorder.batches.append(recorder.current)

        wp._Raw.fetch = fetch  # type: ignore[method-assign]
        wp.PostgresWriterSql.transaction = transaction  # type: ignore[method-assign]


_WRITE = wp._Raw.of(wp._write_plan())
_LOOKUP = wp._Raw.of(wp._lookup())


def cpu_s(pid: int) -> float:
    """CPU seconds of a process of this machine (user and system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50": round(pick(0.5), 2),
        "p99": round(pick(0.99), 2),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with scratch_workspace("inviaro_explain_bench") as s:
        async with s.engine.connect() as conn:
            for statement in args.sql:
                await conn.exec_driver_sql(statement.format(db=s.db))
            await conn.commit()
        await s.engine.dispose()  # a setting of the database reaches every new session
        store = SqlStore(s.engine)
        base = {"workspace_id": s.workspace_id, "channel_id": s.channel_id}

        def inbound(sender: str) -> Inbound:
            return Inbound(
                **base,
                direction="in",
                author=CONTACT,
                text=f"hello from {sender}, about order {uuid.uuid4().hex[:8]}",
                contact_external_id=sender,
                provider_message_id=uuid.uuid4().hex,
            )

        # Installed before the first batch: the writer plans its statements then, on
        # tables still empty (as a hub does on a fresh database), and keeps the plans.
        recorder = Recorder(explaining=not args.cpu)
        recorder.install()
        known = [f"c{n}" for n in range(args.contacts)]
        for start in range(0, len(known), 100):
            await asyncio.gather(*(store.write(inbound(c)) for c in known[start : start + 100]))
        if args.analyze:  # statistics: the writer's plans are made again
            async with s.engine.connect() as conn:
                await conn.exec_driver_sql("ANALYZE")
                await conn.commit()
        recorder.batches.clear()
        sent = 0
        cpu, backend_cpu = time.process_time(), cpu_s(recorder.backend)
        for r in range(args.rounds):
            senders = (
                [f"cold-{r}-{k}" for k in range(args.batch)]
                if args.cold
                else [known[(r * args.batch + k) * 7919 % len(known)] for k in range(args.batch)]
            )
            await asyncio.gather(*(store.write(inbound(c)) for c in senders))
            sent += len(senders)
        cpu, backend_cpu = time.process_time() - cpu, cpu_s(recorder.backend) - backend_cpu
        await store.close()
        if args.plans:
            args.plans.write_text(json.dumps(recorder.plans, indent=1))
        done = recorder.batches
        out: dict[str, Any] = {
            "batches": len(done),
            "mean_batch": round(sent / max(1, len(done)), 1),
            "commit_ms": quantiles([b["commit_ms"] for b in done]),
            "python_cpu_us_per_message": round(cpu / sent * 1e6, 1),
            "postgres_cpu_us_per_message": round(backend_cpu / sent * 1e6, 1),
        }
        if args.cpu:
            return out
        for step in ("lookup", "write"):
            rows = [b[step] for b in done if step in b]
            out[step] = {
                k: quantiles([row[k] for row in rows])
                for k in ("round_trip_ms", "execution_ms", "planning_ms", "fk_ms")
            }
            for k in ("wal_bytes", "wal_records", "wal_fpi", "fk_calls"):
                out[step][f"{k}_per_message"] = round(sum(row[k] for row in rows) / sent, 2)
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--contacts", type=int, default=500)
    p.add_argument("--cold", action="store_true", help="every message from a new sender")
    p.add_argument("--cpu", action="store_true", help="no EXPLAIN: CPU per message only")
    p.add_argument("--analyze", action="store_true", help="ANALYZE before the writer starts")
    p.add_argument(
        "--sql",
        action="append",
        default=[],
        help="run on the scratch database first ({db}: its name)",
    )
    p.add_argument("--json", type=Path)
    p.add_argument("--plans", type=Path, help="write the last batch's plans here (JSON)")
    args = p.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
