"""The writer's CPU per message on Postgres, nothing else in the process (scenario C' as
the writer sees it: every message from a contact it has not seen).

    .venv/bin/python bench/writer_cpu.py --messages 3000 --batch 1 --batch 10 --batch 100
    .venv/bin/python bench/writer_cpu.py --code ../before ...   # another checkout's writer

Creates a scratch Postgres database (dropped at the end) with one workspace and channel,
then writes ``--messages`` messages per batch size, ``--batch`` at a time (submitted
together, so each group commit carries that many), each from a new sender. Reports this
process's CPU (``getrusage``: user and system) per message and per batch size, after a warm-up
round; ``--rounds`` repeats and reports the median. ``--existing`` writes into the
senders' conversations instead (the second message of a known contact).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
from pathlib import Path
from typing import Any


def _code_path() -> None:
    """``--code DIR`` puts another checkout's packages first (before/after in one sitting)."""
    here = Path(__file__).resolve().parent.parent
    code = here
    if "--code" in sys.argv:
        code = Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    sys.path.insert(0, str(code))


_code_path()

from scratch_writer import scratch_workspace  # noqa: E402  (bench/, beside this script)

from hub.model import Author, Inbound  # noqa: E402
from storage.store import SqlStore  # noqa: E402

CONTACT = Author("contact", None, "Ann")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with scratch_workspace("inviaro_writer_cpu") as s:
        engine, ws_id, channel = s.engine, s.workspace_id, s.channel_id
        store = SqlStore(engine)
        base = {"workspace_id": ws_id, "channel_id": channel, "direction": "in", "author": CONTACT}
        counter = 0

        def item() -> Inbound:
            nonlocal counter
            counter += 1
            return Inbound(
                **base,
                text=f"m{counter}",
                contact_external_id=f"+49{counter}",
                provider_message_id=f"wamid.{counter}",
            )

        async def write(batch: int, count: int, known: list[Inbound] | None) -> tuple[float, float]:
            """User and system CPU seconds for ``count`` messages written ``batch`` at a time."""
            before = resource.getrusage(resource.RUSAGE_SELF)
            for start in range(0, count, batch):
                if known is None:
                    items = [item() for _ in range(batch)]
                else:
                    items = [
                        Inbound(
                            **{**base, "contact_external_id": k.contact_external_id},
                            text="again",
                            provider_message_id=f"again.{k.id}",
                        )
                        for k in known[start : start + batch]
                    ]
                results = await asyncio.gather(*(store.write(i) for i in items))
                assert all(r.created for r in results)
            after = resource.getrusage(resource.RUSAGE_SELF)
            return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime

        out: dict[str, Any] = {"messages": args.messages, "existing": args.existing}
        for batch in args.batch:
            await write(batch, min(args.messages, 200), None)  # warm-up: caches, plans
            rounds = []
            for _ in range(args.rounds):
                known = None
                if args.existing:
                    known = [item() for _ in range(args.messages)]
                    for start in range(0, len(known), 100):
                        await asyncio.gather(*(store.write(i) for i in known[start : start + 100]))
                user, system = await write(batch, args.messages, known)
                rounds.append((user + system, user, system))
            for n, what in enumerate(("cpu", "user", "sys")):
                median = statistics.median(r[n] for r in rounds) / args.messages * 1e6
                out[f"batch_{batch}_{what}_us_per_message"] = round(median, 1)
        await store.close()
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--batch", type=int, action="append")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--existing", action="store_true")
    p.add_argument("--code", type=Path, help="a checkout whose hub and storage to run")
    args = p.parse_args()
    args.batch = args.batch or [1, 10, 100]
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
