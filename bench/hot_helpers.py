"""CPU of the small helpers every message calls, in ns per call.

Issue 20's profile of the ingest path found a set of shared helpers adding up to ~14% of
a request: ids, timestamps, the value types' constructors, a conversation's wire form and
the msgpack packing of a bus event. This prints each one's CPU time, the best of 7 rounds
(on a shared machine the minimum is what the code costs, the rest is other load), so a
change to one of them can be measured before and after on the same machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub import frames
from hub.codec import encode_msgpack
from hub.ids import new_id
from hub.model import Author, Inbound, Message, rfc3339
from storage.serialize import conversation_to_wire

NOW = datetime(2026, 12, 8, 1, 23, 45, 678901, tzinfo=UTC)
NAIVE = NOW.replace(tzinfo=None)
CONVERSATION = SimpleNamespace(
    id=new_id("cv_"),
    status="open",
    assignee_id=None,
    team_id=None,
    tags=[],
    last_seq=1,
    read_seq=0,
    created_at=NOW,
    updated_at=NOW,
    snoozed_until=None,
)
CHANNEL = SimpleNamespace(id=new_id("ch_"), kind="custom", name="Shop")
CONTACT = SimpleNamespace(id=new_id("ct_"), name="Ada Lovelace")


def inbound() -> Inbound:
    """An ingest API message as ``web.api.ingest`` builds it (its id included)."""
    return Inbound(
        workspace_id="ws_1",
        channel_id=CHANNEL.id,
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
        conversation_id=CONVERSATION.id,
        seq=1,
        direction="in",
        author=Author("contact", None, "Ada Lovelace"),
        text="Hello, is the shop open on Sunday?",
        attachments=(),
        status="received",
        created_at=NOW,
    )


MESSAGE = message()
WIRE = conversation_to_wire(CONVERSATION, CHANNEL, CONTACT, MESSAGE)  # type: ignore[arg-type]
FRAME = frames.message(MESSAGE)

CASES: dict[str, Callable[[], object]] = {
    "new_id('msg_')": lambda: new_id("msg_"),
    "rfc3339(aware UTC)": lambda: rfc3339(NOW),
    "rfc3339(naive)": lambda: rfc3339(NAIVE),
    "Author(...)": lambda: Author("contact", None, "Ada Lovelace"),
    "Inbound(...) with its id": inbound,
    "Message(...) with its id": message,
    "Message.to_wire()": MESSAGE.to_wire,
    "conversation_to_wire": lambda: conversation_to_wire(
        CONVERSATION,  # type: ignore[arg-type]
        CHANNEL,  # type: ignore[arg-type]
        CONTACT,  # type: ignore[arg-type]
        MESSAGE,
    ),
    "encode_msgpack(message frame)": lambda: encode_msgpack(FRAME),
    "encode_msgpack(conversation)": lambda: encode_msgpack(frames.conversation(WIRE)),
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
    for name, fn in CASES.items():
        print(f"{name:32s} {per_call_ns(fn):8.0f} ns")


if __name__ == "__main__":
    main()
