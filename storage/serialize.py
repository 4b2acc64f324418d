"""Rows to the contract's wire forms and to hub value types: one place for each shape.

Each function reads attributes only, described by a Protocol: an ORM object and a Core
``Row`` of the same columns both serve (a ``Row``'s attributes are typed ``Any``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast

from hub.model import Attachment, Author, AuthorKind, Direction, Message, MessageStatus, rfc3339
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


class Named(Protocol):
    """A channel or contact, as a conversation's wire form names it."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...


class NamedChannel(Named, Protocol):
    @property
    def kind(self) -> str | None: ...


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
    )


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
        "tags": list(conv.tags or ()),
        "last_seq": conv.last_seq,
        "unread": max(0, conv.last_seq - conv.read_seq),
        "last_message": last,
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
