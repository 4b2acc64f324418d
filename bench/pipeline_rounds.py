"""Process CPU per round of ``hub.redis_pipeline.Pipeliner`` on a private redis-server.

    .venv/bin/python bench/pipeline_rounds.py [--callers 1] [--rounds 5000] [--runs 5]
    .venv/bin/python bench/pipeline_rounds.py --tree ../before --tree .   # interleaved

``--runs`` times for each ``--tree`` in turn, a child process imports that tree's
``Pipeliner`` and runs ``--rounds`` rounds; in each, ``--callers`` callers call ``execute``
at once with what one accepted message publishes (a message frame to two topics and a
conversation frame), so a round carries ``3 * callers`` commands in one round trip. Prints
each tree's median process CPU per round and per caller. Only 127.0.0.1 is contacted; the
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

HERE = Path(__file__).resolve().parent


async def _rounds(url: str, rounds: int, callers: int) -> float:
    """The child: CPU seconds per round through this tree's Pipeliner."""
    from redis.asyncio import Redis

    from hub.redis_pipeline import Pipeliner

    client = Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=2.0)
    calls = Pipeliner(client, "bench")
    payload = b"\x82\xa4type\xa7message\xa4text" + b"x" * 300
    message = [("PUBLISH", topic, payload) for topic in ("w1", "w1.c1", "w1")]

    async def round_() -> None:
        await asyncio.gather(*(calls.execute(*message) for _ in range(callers)))

    for _ in range(200):  # connections made, code paths warm
        await round_()
    before = time.process_time()
    for _ in range(rounds):
        await round_()
    used = time.process_time() - before
    await calls.close()
    await client.aclose()
    return used / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--callers", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", action="append", help="a checkout to measure (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the server's URL, in a child
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_rounds(args.child, args.rounds, args.callers))))
        return

    sys.path.insert(0, str(HERE.parent))
    from bench.trees import interleaved
    from tests.conftest import free_port
    from tests.system.conftest import RedisServer

    server = RedisServer(free_port(), Path(tempfile.mkdtemp(prefix="inviaro-rounds-")))
    server.start()
    try:
        asyncio.run(server.wait_ready())
        child = [server.url, "--rounds", str(args.rounds), "--callers", str(args.callers)]
        results = interleaved(__file__, args.tree, args.runs, child)
    finally:
        server.kill()
    for tree, runs in results.items():
        per_round = statistics.median(runs) * 1e6
        spread = ", ".join(f"{r * 1e6:.1f}" for r in runs)
        print(
            f"{tree}: {per_round:.1f} µs of CPU per round ({spread}), "
            f"{per_round / args.callers:.1f} µs per caller ({args.callers} callers)"
        )


if __name__ == "__main__":
    main()
