"""An inbound message as the database can hold it: no NUL characters, names cut to fit,
``sent_at`` in UTC.

A provider may send a NUL, which Postgres text cannot hold; it is replaced, the same way
every time, so ids still deduplicate and nothing is refused. A ``sent_at`` with another
offset is moved to UTC: SQLite keeps a time without its zone, and every time read back
naive is taken as UTC (so is a ``sent_at`` given naive).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

from hub.model import Inbound, as_utc

NAME_CHARS = 200  # contact and author names are kept in 200 characters


def _clean(value: str | None) -> str | None:
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


def _name(value: str | None) -> str | None:
    return _clean(value[:NAME_CHARS] if value and len(value) > NAME_CHARS else value)


def cleaned(item: Inbound) -> Inbound:
    """The item with no NUL, its names cut to their column and ``sent_at`` in UTC (the
    item itself when it needs none of these, the common case)."""
    if item.sent_at is not None and item.sent_at.tzinfo is not UTC:
        item = replace(item, sent_at=as_utc(item.sent_at))
    fields = (
        item.text,
        item.contact_external_id,
        item.contact_name,
        item.client_id,
        item.provider_message_id,
        item.author.id,
        item.author.name,
    )
    long_name = any(n and len(n) > NAME_CHARS for n in (item.contact_name, item.author.name))
    if not long_name and not item.attachments and not any(f and "\x00" in f for f in fields):
        return item
    return replace(
        item,
        text=_clean(item.text) or "",
        contact_external_id=_clean(item.contact_external_id),
        contact_name=_name(item.contact_name),
        client_id=_clean(item.client_id),
        provider_message_id=_clean(item.provider_message_id),
        author=replace(item.author, id=_clean(item.author.id), name=_name(item.author.name)),
        attachments=tuple(
            replace(
                a,
                url=_clean(a.url),
                mime=_clean(a.mime),
                name=_clean(a.name),
                provider_media_id=_clean(a.provider_media_id),
            )
            for a in item.attachments
        ),
    )
