"""The hub's CPU and Redis round trips per accepted message: ``Hub.accept`` on a RedisBus.

    .venv/bin/python bench/accept_publish.py [--messages 5000] [--concurrency 1] [--runs 5]
    .venv/bin/python bench/accept_publish.py --tree ../before --tree .   # interleaved
    .venv/bin/python bench/accept_publish.py --bus cluster   # ClusterBus, three masters

Starts a private redis-server (or, with ``--bus cluster``, a private three-master Redis
Cluster, whose masters' figures are summed) on loopback and, ``--runs`` times for each
``--tree`` in
turn, a child process that accepts ``--messages`` messages through that tree's
``Hub.accept`` from ``--concurrency`` senders, each message a new conversation's first (a
message frame to two topics and a conversation frame, as a webhook from a new contact
is). The store is an in-memory stand-in that answers at once, so what is measured is the
hub's accept-and-publish path: process CPU per message, and the server's read events and
CPU per message (``INFO``; on a cluster the replicas' acknowledgements add a few reads a
second). Prints each tree's medians. Only 127.0.0.1 is contacted; the
server started is ended by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


async def _server_figures(url: str) -> tuple[int, float]:
    """Read events and CPU seconds so far, summed over the cluster's masters."""
    import redis.asyncio as redis

    from hub.redis_cluster import cluster_client, parse_cluster_url

    if url.startswith("redis+cluster://"):
        client = cluster_client(parse_cluster_url(url))
        await client.initialize()
        admins = [redis.Redis(host=m.host, port=int(m.port)) for m in client.get_primaries()]
        await client.aclose()
    else:
        admins = [redis.Redis.from_url(url)]
    reads, used = 0, 0.0
    for admin in admins:
        stats, cpu = await admin.info("stats"), await admin.info("cpu")
        await admin.aclose()
        reads += int(stats["total_reads_processed"]) - 1  # less this INFO's own read
        used += float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])
    return reads, used


async def _accept(url: str, messages: int, concurrency: int) -> dict[str, float]:
    """The child: accept through this tree's Hub on a RedisBus or ClusterBus, and measure."""
    from datetime import UTC, datetime

    from hub.bus import Bus, OnMessage, OnReconnect
    from hub.model import Author, Inbound, Message
    from hub.presence import MemoryPresence
    from hub.redis_bus import RedisBus
    from hub.redis_cluster_bus import ClusterBus
    from hub.service import Hub
    from hub.store import WriteResult

    now = datetime.now(UTC)

    class Store:
        """Answers every write at once: a new conversation's first message."""

        async def write(self, inbound: Inbound) -> WriteResult:
            conv = inbound.conversation_id or ""
            msg = Message(
                inbound.id,
                inbound.workspace_id,
                conv,
                1,
                inbound.direction,
                inbound.author,
                inbound.text,
                (),
                inbound.status,
                now,
            )
            conversation: dict[str, Any] = {
                "id": conv,
                "channel": {"id": inbound.channel_id, "kind": "custom"},
                "contact": {"id": inbound.author.id, "name": "Ada Contact"},
                "status": "open",
                "assignee_id": None,
                "tags": [],
                "last_seq": 1,
                "last_message": {"text": inbound.text, "direction": "in"},
                "created_at": "2026-12-07T20:00:00Z",
                "updated_at": "2026-12-07T20:00:00Z",
            }
            return WriteResult(msg, created=True, conversation=conversation)

    def make_bus(on: OnMessage, back: OnReconnect) -> Bus:
        if url.startswith("redis+cluster://"):
            return ClusterBus(url, on, back)
        return RedisBus(url, on, back)

    hub = Hub.create(Store(), MemoryPresence(ttl_s=75), make_bus)  # type: ignore[arg-type]
    await hub.bus.start()
    inbounds = [
        Inbound(
            workspace_id=f"w{n % 100}",
            channel_id="ch1",
            direction="in",
            author=Author("contact", f"ct{n}", "Ada Contact"),
            text="Hello, is the shop open on Sunday? I would like to book a table for four.",
            conversation_id=f"c{n}",
        )
        for n in range(messages + 200)
    ]
    for inbound in inbounds[:200]:  # connections made, code paths warm
        await hub.accept(inbound)
    todo = inbounds[200:]

    async def sender(first: int) -> None:
        for inbound in todo[first::concurrency]:
            await hub.accept(inbound)

    reads_before, server_before = await _server_figures(url)
    cpu_before = time.process_time()
    await asyncio.gather(*(sender(i) for i in range(concurrency)))
    cpu = time.process_time() - cpu_before
    reads_after, server_after = await _server_figures(url)
    await hub.bus.close()
    return {
        "hub_us": cpu / messages * 1e6,
        "reads": (reads_after - reads_before) / messages,
        "server_us": (server_after - server_before) / messages * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bus", choices=("redis", "cluster"), default="redis")
    parser.add_argument("--tree", action="append", help="a checkout to measure (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the server's URL, in a child
    args = parser.parse_args()
    if args.child:
        figures = asyncio.run(_accept(args.child, args.messages, args.concurrency))
        print(json.dumps(figures))
        return

    sys.path.insert(0, str(HERE.parent))
    from bench.trees import interleaved
    from tests.conftest import free_port
    from tests.system.conftest import RedisServer
    from tests.system.redis_cluster import RedisClusterServers

    workdir = Path(tempfile.mkdtemp(prefix="inviaro-accept-"))
    server: RedisServer | RedisClusterServers
    if args.bus == "cluster":
        server = RedisClusterServers(workdir)
        server.start()
    else:
        server = RedisServer(free_port(), workdir)
        server.start()
        asyncio.run(server.wait_ready())
    try:
        child = [server.url, "--messages", str(args.messages)]
        child += ["--concurrency", str(args.concurrency)]
        results = interleaved(__file__, args.tree, args.runs, child)
    finally:
        if isinstance(server, RedisClusterServers):
            server.stop()
        else:
            server.kill()
    for tree, runs in results.items():
        hub = statistics.median(r["hub_us"] for r in runs)
        reads = statistics.median(r["reads"] for r in runs)
        redis_us = statistics.median(r["server_us"] for r in runs)
        spread = ", ".join(f"{r['hub_us']:.1f}" for r in runs)
        print(
            f"{tree}: {hub:.1f} µs of hub CPU ({spread}), {reads:.2f} Redis reads, "
            f"{redis_us:.1f} µs of Redis CPU per message"
        )


if __name__ == "__main__":
    main()
