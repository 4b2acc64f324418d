"""Rows to the contract's wire forms and to hub value types: one place for each shape.

Each function reads attributes only, described by a Protocol: an ORM object and a Core
``Row`` of the same columns both serve (a ``Row``'s attributes are typed ``Any``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast

from hub.model import (
    NO_DELIVERY,
    Attachment,
    Author,
    AuthorKind,
    Delivery,
    Direction,
    Message,
    MessageStatus,
    SendFailure,
    rfc3339,
)
from storage import models as m


class MessageRecord(Protocol):
    """A stored message: a ``messages`` row."""

    @property
    def id(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def conversation_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def direction(self) -> str: ...
    @property
    def author_kind(self) -> str: ...
    @property
    def author_id(self) -> str | None: ...
    @property
    def author_name(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def attachments(self) -> list[dict[str, Any]] | None: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def payload(self) -> dict[str, Any] | None: ...
    @property
    def private(self) -> bool | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def attempts(self) -> int | None: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...
    @property
    def sent_at(self) -> datetime | None: ...


class ConversationRecord(Protocol):
    """A ``conversations`` row, as much as its wire form shows."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def assignee_id(self) -> str | None: ...
    @property
    def tags(self) -> list[str] | None: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def read_seq(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def team_id(self) -> str | None: ...
    @property
    def snoozed_until(self) -> datetime | None: ...


class Named(Protocol):
    """A channel or contact, as a conversation's wire form names it."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...


class NamedChannel(Named, Protocol):
    @property
    def kind(self) -> str | None: ...


def delivery_of(row: MessageRecord) -> Delivery:
    """Where an outbound send stands, from the message row's delivery columns."""
    error = SendFailure(row.error_code or "failed", row.error) if row.error else None
    attempts = row.attempts or 0
    if error is None and not attempts and row.next_attempt_at is None:
        return NO_DELIVERY
    return Delivery(error, attempts, row.next_attempt_at)


def message_from_row(row: MessageRecord) -> Message:
    # The columns hold only the values of these literal types (the writer writes them).
    return Message(
        id=row.id,
        workspace_id=row.workspace_id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        direction=cast(Direction, row.direction),
        author=Author(cast(AuthorKind, row.author_kind), row.author_id, row.author_name),
        text=row.text,
        attachments=tuple(Attachment.from_record(a) for a in row.attachments or ()),
        status=cast(MessageStatus, row.status),
        created_at=row.created_at,
        client_id=row.client_id,
        options=options_of(row.payload),
        option=option_of(row.payload),
        private=bool(row.private),
        delivery=delivery_of(row),
        sent_at=row.sent_at,
    )


def options_of(payload: Any) -> tuple[tuple[str, str], ...]:
    """A flow's offered options, kept in the message's payload as ``[{label, value}]``."""
    items = payload.get("options") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return ()
    return tuple(
        (str(o["label"]), str(o["value"])) for o in items if isinstance(o, dict) and "label" in o
    )


def option_of(payload: Any) -> str | None:
    value = payload.get("option") if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None


def conversation_to_wire(
    conv: ConversationRecord,
    channel: NamedChannel,
    contact: Named,
    last_message: MessageRecord | Message | None = None,
) -> dict[str, Any]:
    last: dict[str, Any] | None = None
    if isinstance(last_message, Message):
        last = last_message.to_wire()
    elif last_message is not None:
        last = message_from_row(last_message).to_wire()
    return {
        "id": conv.id,
        "channel": {"id": channel.id, "kind": channel.kind, "name": channel.name},
        "contact": {"id": contact.id, "name": contact.name},
        "status": conv.status,
        "assignee_id": conv.assignee_id,
        "team_id": conv.team_id,
        "tags": list(conv.tags or ()),
        "last_seq": conv.last_seq,
        "unread": max(0, conv.last_seq - conv.read_seq),
        "last_message": last,
        "snoozed_until": rfc3339(conv.snoozed_until) if conv.snoozed_until else None,
        "created_at": rfc3339(conv.created_at),
        "updated_at": rfc3339(conv.updated_at),
    }


def contact_to_wire(
    contact: m.Contact, identities: list[m.ContactIdentity], kinds: dict[str, str]
) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "attributes": dict(contact.attributes or {}),
        "identities": [
            {
                "channel_id": i.channel_id,
                "kind": kinds.get(i.channel_id),
                "external_id": i.external_id,
            }
            for i in identities
        ],
        "created_at": rfc3339(contact.created_at),
    }
