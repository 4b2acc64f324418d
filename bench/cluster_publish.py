"""CPU per published message through ClusterBus, in the hub and in the cluster's masters.

    .venv/bin/python bench/cluster_publish.py [--concurrency 1] [--messages 5000] [--runs 5]
    .venv/bin/python bench/cluster_publish.py --tree ../before --tree .   # interleaved

Starts a private three-master cluster on loopback (``tests/system/redis_cluster.py``) and,
``--runs`` times for each ``--tree`` in turn, a child process that publishes ``--messages``
messages, each to its workspace's and its conversation's topic (as ``Hub.accept`` does),
from ``--concurrency`` publishers over 100 workspaces, named by that tree's
``hub.fanout``. It prints each tree's median process CPU per message and the masters' CPU
per message (``INFO cpu``, summed). One publisher makes every round of the publishing
pipeline carry one message: the case where a message's topics on one master save a round
trip. Only 127.0.0.1 is contacted; every server started is ended by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKSPACES = 100
PAYLOAD = b"x" * 300


async def _masters_cpu_s(url: str) -> float:
    import redis.asyncio as redis

    from hub.redis_cluster import cluster_client, parse_cluster_url

    client = cluster_client(parse_cluster_url(url))
    await client.initialize()
    total = 0.0
    for master in client.get_primaries():
        admin = redis.Redis(host=master.host, port=int(master.port))
        info = await admin.info("cpu")
        await admin.aclose()
        total += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    await client.aclose()
    return total


async def _publish(url: str, messages: int, concurrency: int) -> dict[str, float]:
    """The child: publish through this tree's ClusterBus and measure."""
    from hub import fanout
    from hub.redis_cluster_bus import ClusterBus

    # Before the hash tags, a conversation's topic was named by its id alone.
    tagged = len(inspect.signature(fanout.conversation_topic).parameters) == 2
    rnd = random.Random(1)
    batches = []
    for _ in range(messages):
        workspace, conversation = f"ws_{rnd.randrange(WORKSPACES)}", f"conv_{rnd.getrandbits(40)}"
        conv_topic = (
            fanout.conversation_topic(workspace, conversation)
            if tagged
            else fanout.conversation_topic(conversation)  # type: ignore[call-arg]
        )
        batches.append((fanout.workspace_topic(workspace), conv_topic))
    bus = ClusterBus(url, lambda topic, payload: None)
    for topics in batches[:200]:  # the client learns the slot map and connects
        await bus.publish(PAYLOAD, *topics)

    async def publisher(first: int) -> None:
        for topics in batches[first::concurrency]:
            await bus.publish(PAYLOAD, *topics)

    masters_before = await _masters_cpu_s(url)
    cpu_before = time.process_time()
    await asyncio.gather(*(publisher(i) for i in range(concurrency)))
    cpu = time.process_time() - cpu_before
    masters = await _masters_cpu_s(url) - masters_before
    await bus.close()
    return {"hub_us": cpu / messages * 1e6, "masters_us": masters / messages * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", action="append", help="a checkout to measure (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the cluster's URL, in a child
    args = parser.parse_args()
    if args.child:
        figures = asyncio.run(_publish(args.child, args.messages, args.concurrency))
        print(json.dumps(figures))
        return

    sys.path.insert(0, str(HERE.parent))
    from bench.trees import interleaved
    from tests.system.redis_cluster import RedisClusterServers

    servers = RedisClusterServers(Path(tempfile.mkdtemp(prefix="inviaro-publish-")))
    servers.start()
    try:
        child = [servers.url, "--messages", str(args.messages)]
        child += ["--concurrency", str(args.concurrency)]
        results = interleaved(__file__, args.tree, args.runs, child)
    finally:
        servers.stop()
    for tree, runs in results.items():
        hub = statistics.median(r["hub_us"] for r in runs)
        masters = statistics.median(r["masters_us"] for r in runs)
        print(f"{tree}: {hub:.1f} µs of hub CPU, {masters:.1f} µs of the masters' per message")


if __name__ == "__main__":
    main()
