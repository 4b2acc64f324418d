"""CPU of the small helpers every message calls, in ns per call.

    .venv/bin/python bench/hot_helpers.py                              # this checkout
    .venv/bin/python bench/hot_helpers.py --tree ../before --tree .    # interleaved

Issue 20's profile of the ingest path found a set of shared helpers adding up to ~14% of
a request: ids, timestamps, the value types' constructors, a conversation's wire form and
the msgpack packing of a bus event. Each ``--run`` a child process imports a tree's code
and times every helper, the best of 7 rounds of CPU time (on a shared machine the minimum
is what the code costs, the rest is other load); this prints each tree's median per call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent


def cases() -> dict[str, Callable[[], object]]:
    """Each helper as the ingest path calls it, imported from the tree on ``sys.path``."""
    from hub import frames
    from hub.codec import encode_msgpack
    from hub.ids import new_id
    from hub.model import Author, Inbound, Message, rfc3339
    from storage.serialize import conversation_to_wire

    now = datetime(2026, 12, 8, 1, 23, 45, 678901, tzinfo=UTC)
    naive = now.replace(tzinfo=None)
    conversation: object = SimpleNamespace(
        id=new_id("cv_"),
        status="open",
        assignee_id=None,
        team_id=None,
        tags=[],
        last_seq=1,
        read_seq=0,
        created_at=now,
        updated_at=now,
        snoozed_until=None,
    )
    channel: object = SimpleNamespace(id=new_id("ch_"), kind="custom", name="Shop")
    contact: object = SimpleNamespace(id=new_id("ct_"), name="Ada Lovelace")

    def inbound() -> Inbound:
        """An ingest API message as ``web.api.ingest`` builds it (its id included)."""
        return Inbound(
            workspace_id="ws_1",
            channel_id="ch_1",
            direction="in",
            author=Author("contact", None, "Ada Lovelace"),
            text="Hello, is the shop open on Sunday?",
            attachments=(),
            contact_external_id="ext-42",
            contact_name="Ada Lovelace",
            provider_message_id="pm-42",
            sent_at=None,
        )

    def message() -> Message:
        return Message(
            id=new_id("msg_"),
            workspace_id="ws_1",
            conversation_id="cv_1",
            seq=1,
            direction="in",
            author=Author("contact", None, "Ada Lovelace"),
            text="Hello, is the shop open on Sunday?",
            attachments=(),
            status="received",
            created_at=now,
        )

    def wire() -> dict[str, object]:
        return conversation_to_wire(conversation, channel, contact, last)  # type: ignore[arg-type]

    last = message()
    message_frame, conversation_frame = frames.message(last), frames.conversation(wire())
    return {
        "new_id('msg_')": lambda: new_id("msg_"),
        "rfc3339(aware UTC)": lambda: rfc3339(now),
        "rfc3339(naive)": lambda: rfc3339(naive),
        "Author(...)": lambda: Author("contact", None, "Ada Lovelace"),
        "Inbound(...) with its id": inbound,
        "Message(...) with its id": message,
        "Message.to_wire()": last.to_wire,
        "conversation_to_wire": wire,
        "encode_msgpack(message frame)": lambda: encode_msgpack(message_frame),
        "encode_msgpack(conversation)": lambda: encode_msgpack(conversation_frame),
    }


def per_call_ns(fn: Callable[[], object], n: int = 50_000) -> float:
    rounds = []
    for _ in range(7):
        started = time.process_time()
        for _ in range(n):
            fn()
        rounds.append((time.process_time() - started) / n * 1e9)
    return min(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", action="append", help="a checkout to measure (repeatable)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({name: per_call_ns(fn) for name, fn in cases().items()}))
        return

    sys.path.insert(0, str(HERE.parent))
    from bench.trees import interleaved

    results = interleaved(__file__, args.tree, args.runs, [])
    trees = list(results)
    print(f"{'ns per call (median of runs)':32s}" + "".join(f"{Path(t).name:>16s}" for t in trees))
    for name in results[trees[0]][0]:
        medians = [statistics.median(run[name] for run in results[t]) for t in trees]
        print(f"{name:32s}" + "".join(f"{m:16.0f}" for m in medians))


if __name__ == "__main__":
    main()
