"""The plan of one group commit, as a pure function: no database, no clock.

Once the writer's transaction knows where each item of the batch goes (its conversation,
found or created, and that conversation's channel), holds the conversations' row locks and
has read the stored messages that share an idempotency key with an item, :func:`plan`
decides the rest: which items are copies of a stored message, which are copies of an
earlier item of the same batch (twins: only the first is stored, the others get its
result), the next gap-free ``seq`` of each new message in its conversation, and the rows
to write (messages, outbox sends, copies of channel media to make, contact messages for
the flow runner to decide about, the conversations' new counters).

A new message starts with no delivery error and no attempts; the result of each carries
what the stored row will give back (``private``, a flow's ``options``/``option`` from its
payload, the sender's ``sent_at``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.ids import new_id
from hub.model import Inbound, Message, MessageStatus
from hub.store import WriteResult
from storage import flow_triggers
from storage.serialize import option_of, options_of

# Replies on these channels leave through the outbox and a provider's API; files on their
# messages stay at the provider (whose links expire) until copied into the hub's storage.
EXTERNAL_KINDS = frozenset({"whatsapp", "messenger", "instagram", "viber"})

Key = tuple[str, ...]  # an idempotency key: ("id", …), ("client", …) or ("provider", …)


def client_key(
    conversation_id: str, author_kind: str, author_id: str | None, client_id: str
) -> Key:
    """The idempotency key of a ``client_id``: one author's resend, never another's."""
    return ("client", conversation_id, author_kind, author_id or "", client_id)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an item goes: its conversation, and that conversation's channel."""

    conversation_id: str
    channel_id: str
    channel_kind: str


@dataclass(frozen=True, slots=True)
class Counters:
    """A conversation's counters as its locked row holds them before the batch."""

    status: str
    last_seq: int
    read_seq: int
    last_inbound_at: datetime | None


@dataclass
class Plan:
    """What to write, and each placed item's result."""

    results: dict[int, WriteResult] = field(default_factory=dict)  # item index -> result
    messages: list[dict[str, Any]] = field(default_factory=list)  # rows of ``messages``
    outbox: list[dict[str, Any]] = field(default_factory=list)  # rows of ``outbox``
    media_fetches: list[dict[str, Any]] = field(default_factory=list)  # rows of ``media_fetches``
    flow_triggers: list[dict[str, Any]] = field(default_factory=list)  # for flow_triggers.add
    counters: list[dict[str, Any]] = field(default_factory=list)  # per conversation touched
    reopened: set[str] = field(default_factory=set)  # resolved conversations an inbound opens


def keys_of(item: Inbound, where: Placement) -> list[Key]:
    """The item's idempotency keys, once its conversation and channel are known."""
    keys: list[Key] = [("id", item.id)]
    if item.client_id:
        keys.append(
            client_key(where.conversation_id, item.author.kind, item.author.id, item.client_id)
        )
    if item.provider_message_id:
        keys.append(("provider", where.channel_id, item.provider_message_id))
    return keys


def plan(
    items: Sequence[Inbound],
    placed: Mapping[int, Placement],
    conversations: Mapping[str, Counters],
    stored: Mapping[Key, Message],
    now: datetime,
    make_id: Callable[[str], str] = new_id,
) -> Plan:
    """The rows to write for the items of ``placed`` (by index into ``items``, in the order
    of ``placed``), given their conversations' counters and the ``stored`` messages by key.

    An item whose key matches a stored message gets that message (not created); one whose
    key matches an earlier item of the batch gets that item's message (not created); the
    others get the next ``seq`` of their conversation, in order."""
    out = Plan()
    fresh: dict[str, list[int]] = {}  # conversation -> its new items, in order
    first_of: dict[Key, int] = {}
    twins: dict[int, int] = {}
    for n, where in placed.items():
        keys = keys_of(items[n], where)
        earlier = next((stored[k] for k in keys if k in stored), None)
        if earlier is not None:
            out.results[n] = WriteResult(earlier, created=False)
            continue
        twin = next((first_of[k] for k in keys if k in first_of), None)
        if twin is not None:
            twins[n] = twin
            continue
        for k in keys:
            first_of[k] = n
        fresh.setdefault(where.conversation_id, []).append(n)
    for conv_id, indices in fresh.items():
        _plan_conversation(
            out, items, placed, conv_id, conversations[conv_id], indices, now, make_id
        )
    for n, first in twins.items():
        out.results[n] = WriteResult(out.results[first].message, created=False)
    return out


def _plan_conversation(
    out: Plan,
    items: Sequence[Inbound],
    placed: Mapping[int, Placement],
    conv_id: str,
    conv: Counters,
    indices: list[int],
    now: datetime,
    make_id: Callable[[str], str],
) -> None:
    """Rows for one conversation's new items, and its new counters."""
    seq = conv.last_seq
    status = conv.status
    read_seq = conv.read_seq
    inbound_seen = False
    for n in indices:
        item = items[n]
        where = placed[n]
        seq += 1
        outward = item.direction == "out" and item.provider_message_id is None
        # Ours (not a provider's echo of it) on an external channel leaves through the
        # outbox; a private note leaves for nowhere: never queued, never in the outbox.
        leaves = outward and not item.private and where.channel_kind in EXTERNAL_KINDS
        message_status: MessageStatus = item.status
        if outward:
            message_status = "queued" if leaves else "sent"
            read_seq = seq  # an operator who replies has read the thread
        if item.direction == "in":
            inbound_seen = True
            if status == "resolved":
                status = "open"
                out.reopened.add(conv_id)
        out.messages.append(
            {
                "id": item.id,
                "workspace_id": item.workspace_id,
                "conversation_id": conv_id,
                "channel_id": where.channel_id,
                "seq": seq,
                "direction": item.direction,
                "author_kind": item.author.kind,
                "author_id": item.author.id,
                "author_name": item.author.name,
                "text": item.text,
                "attachments": [a.to_record() for a in item.attachments],
                "status": message_status,
                "error": None,
                "error_code": None,
                "attempts": 0,
                "next_attempt_at": None,
                "private": item.private,
                "client_id": item.client_id,
                "provider_message_id": item.provider_message_id,
                "created_at": now,
                "sent_at": item.sent_at,
                "payload": item.payload,
            }
        )
        if leaves:
            out.outbox.append(
                {
                    "id": make_id("ob_"),
                    "workspace_id": item.workspace_id,
                    "message_id": item.id,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        # Queued in the message's own transaction: an acknowledged file is copied even if
        # the process dies right after the ack (web.media_inbound downloads it).
        if (
            item.attachments
            and where.channel_kind in EXTERNAL_KINDS
            and any(a.at_provider for a in item.attachments)
        ):
            out.media_fetches.append(
                {
                    "message_id": item.id,
                    "workspace_id": item.workspace_id,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            )
        # Also with the message: a flow it may start or advance is not forgotten if the
        # process dies after the ack, before the runner decided (web.flow_runner).
        if item.direction == "in" and item.author.kind == "contact":
            out.flow_triggers.append(flow_triggers.row(item.id, item.workspace_id, conv_id, now))
        message = Message(
            id=item.id,
            workspace_id=item.workspace_id,
            conversation_id=conv_id,
            seq=seq,
            direction=item.direction,
            author=item.author,
            text=item.text,
            attachments=item.attachments,
            status=message_status,
            created_at=now,
            client_id=item.client_id,
            options=options_of(item.payload),
            option=option_of(item.payload),
            private=item.private,
            sent_at=item.sent_at,
        )
        out.results[n] = WriteResult(message, created=True)
    out.counters.append(
        {
            "b_id": conv_id,
            "last_seq": seq,
            "status": status,
            "read_seq": read_seq,
            "last_message_at": now,
            "updated_at": now,
            "last_inbound_at": now if inbound_seen else conv.last_inbound_at,
        }
    )
