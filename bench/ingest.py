"""Scenario D: durable ingest through the ingest API, commit latency from ``/metrics``.

Signs up a workspace with a custom channel on the first hub, then ``--concurrency`` clients
post batches of ``--batch`` messages (from a pool of ``--contacts`` senders, or with
``--contacts 0`` each from a sender the hub has never seen: cold contacts) round-robin over
every ``--url`` for ``--duration`` seconds; every 202 means the batch is committed. Writer commit
latency and batch size come from the hubs' Prometheus histograms (difference over the run);
with ``--server-pid`` (the hubs, on this machine) the hubs' CPU per message too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import orjson
from ingest_rate import cpu_seconds

CONTACTS = 500  # the default pool of senders


async def setup(url: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        r = await client.post(
            "/api/signup",
            json={
                "workspace": "Ingest bench",
                "name": "Bench",
                "password": uuid.uuid4().hex,
                "email": f"ingest-{uuid.uuid4().hex[:10]}@example.com",
            },
        )
        r.raise_for_status()
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        ch = await client.post(
            "/api/channels", headers=csrf, json={"kind": "custom", "name": "Bench", "config": {}}
        )
        ch.raise_for_status()
        body = ch.json()
        return str(body["id"]), str(body["ingest_token"])


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("inviaro_writer_", "inviaro_accept_")):
            key, _, value = line.rpartition(" ")
            out[key] = out.get(key, 0.0) + float(value)
    return out


async def scrape(urls: list[str]) -> dict[str, float]:
    total: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for url in urls:
            for k, v in parse_metrics((await client.get(f"{url}/metrics")).text).items():
                total[k] = total.get(k, 0.0) + v
    return total


def quantile_ms(
    before: dict[str, float], after: dict[str, float], q: float, name: str = "writer_commit"
) -> float | None:
    """The ``q`` quantile of ``inviaro_<name>_seconds`` between two scrapes, interpolated
    linearly inside its bucket as Prometheus's ``histogram_quantile`` does."""
    prefix = f"inviaro_{name}_seconds_bucket{{le="
    buckets = sorted(
        (float(k[len(prefix) + 1 : -2]), after[k] - before.get(k, 0.0))
        for k in after
        if k.startswith(prefix) and "+Inf" not in k
    )
    total = f"inviaro_{name}_seconds_count"
    count = after.get(total, 0) - before.get(total, 0)
    if not count:
        return None
    rank = q * count
    low, below = 0.0, 0.0
    for le, cumulative in buckets:
        if cumulative >= rank:
            inside = cumulative - below
            share = (rank - below) / inside if inside else 1.0
            return round((low + (le - low) * share) * 1000, 1)
        low, below = le, cumulative
    return float("inf")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    urls = [u.rstrip("/") for u in args.url]
    channel_id, token = await setup(urls[0])
    run = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    accepted = 0
    failures = 0
    stop_at = 0.0

    def sender(n: int, i: int, k: int, phase: str) -> str:
        if not args.contacts:  # cold: never seen before, not even in the warm-up
            return f"cold-{run}-{phase}-{n}-{i}-{k}"
        return f"c{(n * 7919 + i * args.batch + k) % args.contacts}"

    async def client(n: int, until: float, count: bool) -> None:
        nonlocal accepted, failures
        phase = "run" if count else "warm"
        async with httpx.AsyncClient(timeout=60) as http:
            url = f"{urls[n % len(urls)]}/api/ingest/{channel_id}"
            i = 0
            while time.perf_counter() < until:
                i += 1
                body = orjson.dumps(
                    {
                        "messages": [
                            {
                                "contact": {"external_id": sender(n, i, k, phase)},
                                "external_id": uuid.uuid4().hex,
                                "text": f"ingest {n} {i} {k}",
                            }
                            for k in range(args.batch)
                        ]
                    }
                )
                r = await http.post(url, content=body, headers=headers)
                if r.status_code == 202 and count:
                    accepted += len(r.json()["accepted"])
                elif r.status_code != 202:
                    failures += 1

    # Warm-up: contacts and conversations are created on first contact.
    warm = time.perf_counter() + 1.5
    await asyncio.gather(*(client(n, warm, False) for n in range(args.concurrency)))
    before = await scrape(urls)
    cpu_before = sum(cpu_seconds(p) for p in args.server_pid)
    started = time.perf_counter()
    stop_at = started + args.duration
    await asyncio.gather(*(client(n, stop_at, True) for n in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    cpu = sum(cpu_seconds(p) for p in args.server_pid) - cpu_before
    after = await scrape(urls)
    batches = after.get("inviaro_writer_batch_size_count", 0) - before.get(
        "inviaro_writer_batch_size_count", 0
    )
    items = after.get("inviaro_writer_batch_size_sum", 0) - before.get(
        "inviaro_writer_batch_size_sum", 0
    )
    return {
        "batch": args.batch,
        "concurrency": args.concurrency,
        "contacts": args.contacts or "a new one per message",
        "messages": accepted,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(accepted / elapsed, 1),
        "failed_requests": failures,
        "commits": int(batches),
        "mean_batch": round(items / batches, 1) if batches else None,
        "commit_p50_ms": quantile_ms(before, after, 0.5),
        "commit_p99_ms": quantile_ms(before, after, 0.99),
        "accept_p50_ms": quantile_ms(before, after, 0.5, "accept"),
        "accept_p99_ms": quantile_ms(before, after, 0.99, "accept"),
        "backlog_end": after.get("inviaro_writer_backlog", 0.0),
        "server_cpu_us_per_message": (
            round(cpu / accepted * 1e6, 1) if args.server_pid and accepted else None
        ),
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--url", action="append", required=True)
    p.add_argument("--duration", type=float, default=8)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument(
        "--contacts", type=int, default=CONTACTS, help="pool of senders (0: a new one per message)"
    )
    p.add_argument("--server-pid", type=int, action="append", default=[])
    p.add_argument("--json")
    a = p.parse_args()
    result = asyncio.run(main(a))
    print(json.dumps(result, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
