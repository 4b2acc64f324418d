"""A widget visitor's first message creates their contact and conversation.

A widget session reserves ids and stores nothing (no contact, no identity, no
conversation) until the visitor writes: the first message carries a
:class:`hub.model.Reservation`, and the writer calls :func:`open_reservations` inside the
transaction that stores the message, so the contact, its channel identity, the
conversation and the message appear together or not at all. Consent answers given before
that (:mod:`storage.consent`, pending) become the contact's consent records then.

Idempotent and race-safe: every insert does nothing when the row is there already (a
second socket of the same visitor, a writer retry, another process). A reserved contact
that was erased meanwhile is never brought back: its messages fail with
:class:`hub.store.Gone`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.ids import new_id
from hub.model import Inbound, utcnow
from hub.store import Gone
from storage import consent, ledger
from storage import models as m
from storage.dialect import dialect_insert
from storage.models import table_of

T_CONV = table_of(m.Conversation)
T_CONTACT = table_of(m.Contact)
T_IDENT = table_of(m.ContactIdentity)


async def open_reservations(
    conn: AsyncConnection, items: dict[int, Inbound]
) -> tuple[set[str], dict[int, Exception]]:
    """Create what the reserved items (index -> first message) need; returns the
    conversations created and the items refused (their contact was erased)."""
    wanted = {item.conversation_id: item for item in items.values() if item.conversation_id}
    rows = await conn.execute(select(T_CONV.c.id).where(T_CONV.c.id.in_(list(wanted))))
    for row in rows:
        del wanted[row.id]
    refused: dict[int, Exception] = {}
    if not wanted:
        return set(), refused
    gone: set[str] = set()
    for workspace_id in {item.workspace_id for item in wanted.values()}:
        ids = [
            i.reservation.contact_id
            for i in wanted.values()
            if i.reservation is not None and i.workspace_id == workspace_id
        ]
        gone |= await ledger.erased(conn, workspace_id, ids)
    for n, item in items.items():
        if item.reservation is not None and item.reservation.contact_id in gone:
            refused[n] = Gone("this visitor's data was erased")
    live = [i for i in wanted.values() if i.reservation and i.reservation.contact_id not in gone]
    if not live:
        return set(), refused
    contact_ids = sorted({i.reservation.contact_id for i in live if i.reservation})
    existing = {
        r.id
        for r in await conn.execute(select(T_CONTACT.c.id).where(T_CONTACT.c.id.in_(contact_ids)))
    }
    now = utcnow()
    contacts: dict[str, dict[str, Any]] = {}
    identities: dict[str, dict[str, Any]] = {}
    for item in live:
        r = item.reservation
        assert r is not None
        if r.contact_id in existing or r.contact_id in contacts:
            continue
        contacts[r.contact_id] = {
            "id": r.contact_id,
            "workspace_id": item.workspace_id,
            "name": None,
            "attributes": {},
            "created_at": now,
            "updated_at": now,
        }
        identities[r.contact_id] = {
            "id": new_id("ci_"),
            "workspace_id": item.workspace_id,
            "channel_id": item.channel_id,
            "contact_id": r.contact_id,
            "external_id": r.external_id,
            "created_at": now,
        }
    if contacts:
        await conn.execute(
            dialect_insert(conn, T_CONTACT).on_conflict_do_nothing(index_elements=["id"]),
            list(contacts.values()),
        )
        await conn.execute(
            dialect_insert(conn, T_IDENT).on_conflict_do_nothing(
                index_elements=["channel_id", "external_id"]
            ),
            list(identities.values()),
        )
    await conn.execute(
        dialect_insert(conn, T_CONV).on_conflict_do_nothing(index_elements=["id"]),
        [
            {
                "id": item.conversation_id,
                "workspace_id": item.workspace_id,
                "channel_id": item.channel_id,
                "contact_id": item.reservation.contact_id,
                "status": "open",
                "tags": [],
                "last_seq": 0,
                "read_seq": 0,
                "created_at": now,
                "updated_at": now,
            }
            for item in live
            if item.reservation is not None
        ],
    )
    for workspace_id in {item.workspace_id for item in live}:
        await consent.attach_pending(conn, workspace_id, list(contacts))
    return {str(item.conversation_id) for item in live}, refused
