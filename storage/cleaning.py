"""An inbound message as the database can hold it: no NUL characters, names cut to fit.

A provider may send a NUL, which Postgres text cannot hold; it is replaced, the same way
every time, so ids still deduplicate and nothing is refused.
"""

from __future__ import annotations

from dataclasses import replace

from hub.model import Inbound

NAME_CHARS = 200  # contact and author names are kept in 200 characters


def _clean(value: str | None) -> str | None:
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


def _name(value: str | None) -> str | None:
    return _clean(value[:NAME_CHARS] if value and len(value) > NAME_CHARS else value)


def cleaned(item: Inbound) -> Inbound:
    """The item with no NUL and its names cut to their column (the item itself when it
    needs neither, the common case)."""
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
