"""A contact's data rights: read (export), correct (update) and erase, all in one place.

The web layer stays thin: these functions take an :class:`AsyncEngine` (they run their own
transaction) or an :class:`AsyncSession` (they run inside the caller's transaction, so the
caller can add its audit entry and commit both together) and return plain dicts or small
reports. A contact of another workspace is :class:`hub.store.NotFound`, exactly like a
contact that never existed, so callers reveal nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypedDict

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from hub.ids import new_id
from hub.model import rfc3339, utcnow
from hub.store import NotFound
from storage import consent, media, search
from storage import models as m
from storage.dialect import dialect_insert
from storage.ledger import erased_contact_hash
from storage.models import table_of
from storage.serialize import contact_to_wire, conversation_to_wire, message_from_row
from storage.writer_sql import provider_id_hash

T_WS = table_of(m.Workspace)
T_CONTACT = table_of(m.Contact)
T_IDENT = table_of(m.ContactIdentity)
T_CHANNEL = table_of(m.Channel)
T_CONV = table_of(m.Conversation)
T_MSG = table_of(m.Message)
T_OUTBOX = table_of(m.OutboxItem)
T_TRIGGER = table_of(m.FlowTrigger)
T_BOOKING = table_of(m.Booking)
T_ERASED = table_of(m.ErasedProviderMessage)
T_AI_CALL = table_of(m.AiCall)
T_LEDGER = table_of(m.ErasureLedgerEntry)
T_CONSENT = table_of(m.ConsentRecord)

EXPORT_FORMAT = "inviaro.contact-export/1"

Db = AsyncEngine | AsyncSession


class ContactChanges(TypedDict, total=False):
    """A correction's columns, already checked by the caller (the API's ``ContactPatch``):
    only the keys given change; None clears a field."""

    name: str | None
    email: str | None
    phone: str | None
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure removed, for the caller to clean up what the database does not hold.

    ``conversation_ids``: close sockets on them and drop their Redis keys.
    ``identities``: ``(channel_id, external_id)`` pairs, for rate-limit or presence keys
    named after a channel user. Never log these values; they are personal data.
    """

    workspace_id: str
    contact_id: str
    conversation_ids: tuple[str, ...]
    identities: tuple[tuple[str, str], ...]
    messages: int
    tombstones: int
    bookings: int
    outbox_items: int
    # Files of the contact whose rows were deleted: remove them from the media directory
    # once the transaction is committed (:meth:`storage.media.MediaFiles.remove`).
    media_ids: tuple[str, ...] = ()


@contextlib.asynccontextmanager
async def _connection(db: Db) -> AsyncIterator[AsyncConnection]:
    """One transaction's connection: our own for an engine, the caller's for a session."""
    if isinstance(db, AsyncSession):
        yield await db.connection()
    else:
        async with db.begin() as conn:
            yield conn


async def _contact_row(
    conn: AsyncConnection, workspace_id: str, contact_id: str, *, lock: bool = False
) -> Any:
    query = select(T_CONTACT).where(
        T_CONTACT.c.id == contact_id, T_CONTACT.c.workspace_id == workspace_id
    )
    if lock and conn.dialect.name == "postgresql":
        # The writer locks contacts before creating their conversations: same order here.
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("no such contact in this workspace")
    return row


async def _identities(conn: AsyncConnection, contact_ids: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {c: [] for c in contact_ids}
    if not contact_ids:
        return out
    rows = await conn.execute(
        select(T_IDENT)
        .where(T_IDENT.c.contact_id.in_(contact_ids))
        .order_by(T_IDENT.c.created_at, T_IDENT.c.id)
    )
    for r in rows:
        out[r.contact_id].append(r)
    return out


async def _channels(conn: AsyncConnection, workspace_id: str) -> dict[str, Any]:
    rows = await conn.execute(select(T_CHANNEL).where(T_CHANNEL.c.workspace_id == workspace_id))
    return {r.id: r for r in rows}


def _kinds(channels: dict[str, Any]) -> dict[str, str]:
    return {cid: ch.kind for cid, ch in channels.items()}


def _contact_wire(contact: Any, identities: list[Any], kinds: dict[str, str]) -> dict[str, Any]:
    wire = contact_to_wire(contact, identities, kinds)
    wire["updated_at"] = rfc3339(contact.updated_at)
    wire["processing"] = contact.processing
    changed = contact.processing_changed_at
    wire["processing_changed_at"] = rfc3339(changed) if changed else None
    wire["processing_changed_by"] = contact.processing_changed_by
    return wire


async def _read_contact(
    conn: AsyncConnection, workspace_id: str, contact_id: str
) -> dict[str, Any]:
    contact = await _contact_row(conn, workspace_id, contact_id)
    identities = await _identities(conn, [contact_id])
    kinds = _kinds(await _channels(conn, workspace_id))
    wire = _contact_wire(contact, identities[contact_id], kinds)
    wire["consent"] = await consent.current(conn, contact_id)
    return wire


async def get_contact(db: Db, workspace_id: str, contact_id: str) -> dict[str, Any]:
    """The contact's wire form (with identities); NotFound outside ``workspace_id``."""
    async with _connection(db) as conn:
        return await _read_contact(conn, workspace_id, contact_id)


async def list_contacts(
    db: Db,
    workspace_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    q: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the workspace's contacts, newest first, and the cursor of the next page;
    with ``q``, only those whose name, email or phone holds it (:mod:`storage.search`).

    Ids are time-ordered, so the cursor is simply the last id returned (keyset paging
    stays fast and stable while contacts are added or erased).
    """
    limit = max(1, min(limit, 200))
    async with _connection(db) as conn:
        query = select(T_CONTACT).where(T_CONTACT.c.workspace_id == workspace_id)
        if cursor:
            query = query.where(T_CONTACT.c.id < cursor)
        if q and q.strip():
            query = query.where(search.contact_matches(q))
        rows = list(await conn.execute(query.order_by(T_CONTACT.c.id.desc()).limit(limit + 1)))
        page = rows[:limit]
        identities = await _identities(conn, [r.id for r in page])
        kinds = _kinds(await _channels(conn, workspace_id))
        items = [_contact_wire(r, identities[r.id], kinds) for r in page]
        return items, (page[-1].id if len(rows) > limit else None)


async def update_contact(
    db: Db, workspace_id: str, contact_id: str, changes: ContactChanges
) -> dict[str, Any]:
    """Apply a correction and return the updated contact's wire form; NotFound outside
    ``workspace_id``."""
    values: dict[str, Any] = dict(changes)
    async with _connection(db) as conn:
        await _contact_row(conn, workspace_id, contact_id, lock=True)
        if values:
            values["updated_at"] = utcnow()
            await conn.execute(
                update(T_CONTACT)
                .where(T_CONTACT.c.id == contact_id, T_CONTACT.c.workspace_id == workspace_id)
                .values(**values)
            )
        return await _read_contact(conn, workspace_id, contact_id)


async def export_contact(db: Db, workspace_id: str, contact_id: str) -> dict[str, Any]:
    """Everything held about one contact, as one self-describing JSON-ready document.

    Conversations carry all their messages in ``seq`` order (text, attachments' metadata,
    status, times). Only rows reached through this contact's id are read, so another
    contact's data cannot leak into the document.
    """
    async with _connection(db) as conn:
        workspace = (
            await conn.execute(select(T_WS.c.id, T_WS.c.name).where(T_WS.c.id == workspace_id))
        ).first()
        if workspace is None:
            raise NotFound("no such workspace")
        contact = await _contact_row(conn, workspace_id, contact_id)
        identities = await _identities(conn, [contact_id])
        channels = await _channels(conn, workspace_id)
        convs = list(
            await conn.execute(
                select(T_CONV)
                .where(T_CONV.c.contact_id == contact_id, T_CONV.c.workspace_id == workspace_id)
                .order_by(T_CONV.c.created_at, T_CONV.c.id)
            )
        )
        messages: dict[str, list[Any]] = {c.id: [] for c in convs}
        if convs:
            rows = await conn.execute(
                select(T_MSG)
                .where(T_MSG.c.conversation_id.in_(list(messages)))
                .order_by(T_MSG.c.conversation_id, T_MSG.c.seq)
            )
            for r in rows:
                messages[r.conversation_id].append(r)
        bookings = await conn.execute(
            select(T_BOOKING)
            .where(T_BOOKING.c.contact_id == contact_id, T_BOOKING.c.workspace_id == workspace_id)
            .order_by(T_BOOKING.c.starts_at, T_BOOKING.c.id)
        )
        conversations = []
        for conv in convs:
            rows_of = messages[conv.id]
            wire = conversation_to_wire(
                conv,
                channels[conv.channel_id],
                contact,
                message_from_row(rows_of[-1]) if rows_of else None,
            )
            wire["last_message_at"] = (
                rfc3339(conv.last_message_at) if conv.last_message_at else None
            )
            wire["messages"] = [_message_export(r) for r in rows_of]
            conversations.append(wire)
        return {
            "format": EXPORT_FORMAT,
            "exported_at": rfc3339(utcnow()),
            "workspace": {"id": workspace.id, "name": workspace.name},
            "contact": {
                **_contact_wire(contact, identities[contact_id], _kinds(channels)),
                "consent": await consent.current(conn, contact_id),
            },
            "consents": await consent.history(conn, contact_id),
            "conversations": conversations,
            "bookings": [_booking_export(b) for b in bookings],
        }


def _message_export(row: Any) -> dict[str, Any]:
    wire = message_from_row(row).to_wire()
    wire["error"] = row.error
    return wire


def _booking_export(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "provider": row.provider,
        "summary": row.summary,
        "starts_at": rfc3339(row.starts_at),
        "ends_at": rfc3339(row.ends_at),
        "status": row.status,
        "created_at": rfc3339(row.created_at),
    }


async def erase_contact(db: Db, workspace_id: str, contact_id: str) -> ErasureReport:
    """Delete the contact and everything reached through it, in one transaction.

    Removes identities, conversations, their messages (whoever wrote them), pending outbox
    items and flow triggers, bookings and AI call records, and leaves a tombstone (a hash,
    never the id itself) for every provider message id, so a provider redelivering an
    erased message does not bring it back. A new message from the same person later starts a new
    contact. Raises NotFound for a contact that does not exist (any more) in
    ``workspace_id``.

    The erasure is also written to the erasure ledger (the workspace id and a one-way
    hash of the contact id), so that restoring a backup taken before it erases the
    contact again (:mod:`storage.backup`).
    """
    async with _connection(db) as conn:
        await _contact_row(conn, workspace_id, contact_id, lock=True)
        conv_query = select(T_CONV.c.id).where(
            T_CONV.c.contact_id == contact_id, T_CONV.c.workspace_id == workspace_id
        )
        if conn.dialect.name == "postgresql":
            conv_query = conv_query.order_by(T_CONV.c.id).with_for_update()
        conv_ids = [r.id for r in await conn.execute(conv_query)]
        identities = [
            (r.channel_id, r.external_id)
            for r in await conn.execute(
                select(T_IDENT.c.channel_id, T_IDENT.c.external_id).where(
                    T_IDENT.c.contact_id == contact_id
                )
            )
        ]
        tombstones = 0
        messages = outbox = 0
        if conv_ids:
            provider_ids = {
                (r.channel_id, provider_id_hash(r.channel_id, r.provider_message_id))
                for r in await conn.execute(
                    select(T_MSG.c.channel_id, T_MSG.c.provider_message_id).where(
                        T_MSG.c.conversation_id.in_(conv_ids),
                        T_MSG.c.provider_message_id.is_not(None),
                    )
                )
            }
            if provider_ids:
                now = utcnow()
                await conn.execute(
                    dialect_insert(conn, T_ERASED).on_conflict_do_nothing(
                        index_elements=["channel_id", "id_hash"]
                    ),
                    [{"channel_id": c, "id_hash": h, "erased_at": now} for c, h in provider_ids],
                )
                tombstones = len(provider_ids)
            message_ids = select(T_MSG.c.id).where(T_MSG.c.conversation_id.in_(conv_ids))
            outbox = (
                await conn.execute(delete(T_OUTBOX).where(T_OUTBOX.c.message_id.in_(message_ids)))
            ).rowcount
            await conn.execute(delete(T_TRIGGER).where(T_TRIGGER.c.message_id.in_(message_ids)))
            messages = (
                await conn.execute(delete(T_MSG).where(T_MSG.c.conversation_id.in_(conv_ids)))
            ).rowcount
        bookings = (
            await conn.execute(delete(T_BOOKING).where(T_BOOKING.c.contact_id == contact_id))
        ).rowcount
        if conv_ids:
            # What was sent to the AI provider about these conversations, and its answers.
            await conn.execute(delete(T_AI_CALL).where(T_AI_CALL.c.conversation_id.in_(conv_ids)))
            await conn.execute(delete(T_CONV).where(T_CONV.c.id.in_(conv_ids)))
        media_ids = await media.delete_for_contact(conn, contact_id, conv_ids)
        await conn.execute(delete(T_IDENT).where(T_IDENT.c.contact_id == contact_id))
        await conn.execute(delete(T_CONSENT).where(T_CONSENT.c.contact_id == contact_id))
        await conn.execute(delete(T_CONTACT).where(T_CONTACT.c.id == contact_id))
        await conn.execute(
            T_LEDGER.insert().values(
                id=new_id("er_"),
                workspace_id=workspace_id,
                contact_hash=erased_contact_hash(workspace_id, contact_id),
                erased_at=utcnow(),
            )
        )
        return ErasureReport(
            workspace_id=workspace_id,
            contact_id=contact_id,
            conversation_ids=tuple(conv_ids),
            identities=tuple(identities),
            messages=messages,
            tombstones=tombstones,
            bookings=bookings,
            outbox_items=outbox,
            media_ids=media_ids,
        )


async def agents_may_export(db: Db, workspace_id: str) -> bool:
    """Whether this workspace lets agents (not only admins) export and erase contacts."""
    async with _connection(db) as conn:
        value = await conn.scalar(select(T_WS.c.agents_may_export).where(T_WS.c.id == workspace_id))
        return bool(value)
