"""Rows to the contract's wire forms and to hub value types: one place for each shape."""

from __future__ import annotations

from typing import Any

from hub.model import Attachment, Author, Message, rfc3339
from storage import models as m


def message_from_row(row: m.Message) -> Message:
    return Message(
        id=row.id,
        workspace_id=row.workspace_id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        direction=row.direction,  # type: ignore[arg-type]
        author=Author(row.author_kind, row.author_id, row.author_name),  # type: ignore[arg-type]
        text=row.text,
        attachments=tuple(Attachment.from_record(a) for a in row.attachments or ()),
        status=row.status,  # type: ignore[arg-type]
        created_at=row.created_at,
        client_id=row.client_id,
        options=_options(row.payload),
        option=_option(row.payload),
    )


def _options(payload: Any) -> tuple[tuple[str, str], ...]:
    """A flow's offered options, kept in the message's payload as ``[{label, value}]``."""
    items = payload.get("options") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return ()
    return tuple(
        (str(o["label"]), str(o["value"])) for o in items if isinstance(o, dict) and "label" in o
    )


def _option(payload: Any) -> str | None:
    value = payload.get("option") if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None


def conversation_to_wire(
    conv: m.Conversation,
    channel: m.Channel,
    contact: m.Contact,
    last_message: m.Message | Message | None = None,
) -> dict[str, Any]:
    last: dict[str, Any] | None = None
    if isinstance(last_message, m.Message):
        last = message_from_row(last_message).to_wire()
    elif last_message is not None:
        last = last_message.to_wire()
    return {
        "id": conv.id,
        "channel": {"id": channel.id, "kind": channel.kind, "name": channel.name},
        "contact": {"id": contact.id, "name": contact.name},
        "status": conv.status,
        "assignee_id": conv.assignee_id,
        "team_id": getattr(conv, "team_id", None),
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
