"""Export, correction and erasure of one contact, on SQLite and Postgres."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Attachment, Author, Inbound, utcnow
from hub.store import Gone, NotFound
from storage import models as m
from storage.db import sessionmaker
from storage.privacy import (
    erase_contact,
    export_contact,
    get_contact,
    list_contacts,
    update_contact,
)
from storage.store import SqlStore

from .conftest import Workspace, make_workspace


@dataclass
class Person:
    """A contact with two conversations, a reply in the outbox and a booking."""

    contact_id: str
    name: str
    email: str
    phone: str
    external_ids: list[str]
    provider_ids: list[str]
    texts: list[str]
    message_ids: list[str]
    conversation_ids: list[str]
    booking_summary: str


def token(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


async def make_person(store: SqlStore, ws: Workspace, engine: AsyncEngine) -> Person:
    name, wa_id, api_id = token("Name"), token("+49151"), token("ext")
    texts = [token("hello"), token("caption"), token("reply"), token("again")]
    provider_ids = [token("wamid"), token("wamid")]
    first = await store.write(
        Inbound(
            workspace_id=ws.id,
            channel_id=ws.whatsapp,
            direction="in",
            author=Author("contact", None, name),
            text=texts[0],
            contact_external_id=wa_id,
            contact_name=name,
            provider_message_id=provider_ids[0],
        )
    )
    wa_conv = first.message.conversation_id
    async with engine.connect() as conn:
        contact_id = await conn.scalar(
            select(m.Conversation.contact_id).where(m.Conversation.id == wa_conv)
        )
    photo = await store.write(
        Inbound(
            workspace_id=ws.id,
            channel_id=ws.whatsapp,
            direction="in",
            author=Author("contact", None, name),
            text=texts[1],
            attachments=(Attachment(url="/media/x", mime="image/jpeg", name="p.jpg", size=12),),
            conversation_id=wa_conv,
            provider_message_id=provider_ids[1],
        )
    )
    reply = await store.write(
        Inbound(
            workspace_id=ws.id,
            channel_id=ws.whatsapp,
            direction="out",
            author=Author("operator", "op_x", "Olga"),
            text=texts[2],
            conversation_id=wa_conv,
        )
    )
    # The same person on a second channel: attach the identity to the same contact.
    async with sessionmaker(engine)() as session, session.begin():
        session.add(
            m.ContactIdentity(
                workspace_id=ws.id, channel_id=ws.custom, contact_id=contact_id, external_id=api_id
            )
        )
    other = await store.write(
        Inbound(
            workspace_id=ws.id,
            channel_id=ws.custom,
            direction="in",
            author=Author("contact", None, name),
            text=texts[3],
            contact_external_id=api_id,
        )
    )
    summary = token("Haircut")
    async with sessionmaker(engine)() as session, session.begin():
        session.add(
            m.Booking(
                workspace_id=ws.id,
                contact_id=contact_id,
                conversation_id=wa_conv,
                provider="google",
                provider_event_id=token("evt"),
                summary=summary,
                starts_at=utcnow() + timedelta(days=1),
                ends_at=utcnow() + timedelta(days=1, hours=1),
            )
        )
    email, phone = f"{token('p')}@example.org", "+49 151 " + str(uuid.uuid4().int)[:8]
    await update_contact(engine, ws.id, contact_id, {"email": email, "phone": phone})
    return Person(
        contact_id=contact_id,
        name=name,
        email=email,
        phone=phone,
        external_ids=[wa_id, api_id],
        provider_ids=provider_ids,
        texts=texts,
        message_ids=[first.message.id, photo.message.id, reply.message.id, other.message.id],
        conversation_ids=[wa_conv, other.message.conversation_id],
        booking_summary=summary,
    )


async def all_rows_text(engine: AsyncEngine) -> str:
    """Every row of every table, stringified: what a search of the database would find."""
    parts: list[str] = []
    async with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


async def test_export_contains_identities_conversations_messages_and_bookings(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    doc = await export_contact(engine, ws.id, person.contact_id)
    assert doc["workspace"] == {"id": ws.id, "name": "Acme"}
    assert doc["exported_at"].endswith("Z")
    contact = doc["contact"]
    assert (contact["id"], contact["name"], contact["email"], contact["phone"]) == (
        person.contact_id,
        person.name,
        person.email,
        person.phone,
    )
    assert sorted(i["external_id"] for i in contact["identities"]) == sorted(person.external_ids)
    assert {c["id"] for c in doc["conversations"]} == set(person.conversation_ids)
    messages = [msg for c in doc["conversations"] for msg in c["messages"]]
    assert sorted(msg["text"] for msg in messages) == sorted(person.texts)
    photo = next(msg for msg in messages if msg["attachments"])
    assert photo["attachments"] == [
        {"url": "/media/x", "mime": "image/jpeg", "name": "p.jpg", "size": 12}
    ]
    assert {msg["status"] for msg in messages} == {"received", "queued"}
    assert all(msg["created_at"] for msg in messages)
    assert [b["summary"] for b in doc["bookings"]] == [person.booking_summary]


async def test_export_holds_nothing_of_another_contact_of_the_same_workspace(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    neighbour = await make_person(store, ws, engine)
    text = repr(await export_contact(engine, ws.id, person.contact_id))
    for secret in (
        neighbour.contact_id,
        neighbour.name,
        neighbour.email,
        neighbour.phone,
        neighbour.booking_summary,
        *neighbour.external_ids,
        *neighbour.texts,
        *neighbour.conversation_ids,
    ):
        assert secret not in text


async def test_exporting_a_contact_of_another_workspace_is_not_found(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws, other = await make_workspace(engine), await make_workspace(engine)
    person = await make_person(store, ws, engine)
    with pytest.raises(NotFound):
        await export_contact(engine, other.id, person.contact_id)


async def test_after_erasure_no_table_holds_anything_of_the_contact(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    neighbour = await make_person(store, ws, engine)
    await erase_contact(engine, ws.id, person.contact_id)
    everything = await all_rows_text(engine)
    for secret in (
        person.contact_id,
        person.name,
        person.email,
        person.phone,
        person.booking_summary,
        *person.external_ids,
        *person.provider_ids,
        *person.texts,
        *person.message_ids,
        *person.conversation_ids,
    ):
        assert secret not in everything
    assert neighbour.texts[0] in everything  # the neighbour is untouched


async def test_erasure_reports_the_conversations_and_identities_to_clean_elsewhere(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    report = await erase_contact(engine, ws.id, person.contact_id)
    assert sorted(report.conversation_ids) == sorted(person.conversation_ids)
    assert sorted(e for _, e in report.identities) == sorted(person.external_ids)
    assert (report.messages, report.tombstones, report.bookings, report.outbox_items) == (
        4,
        2,
        1,
        1,
    )


async def test_erasing_twice_is_not_found(store: SqlStore, engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    await erase_contact(engine, ws.id, person.contact_id)
    with pytest.raises(NotFound):
        await erase_contact(engine, ws.id, person.contact_id)


async def test_erasing_a_contact_of_another_workspace_is_not_found_and_keeps_it(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws, other = await make_workspace(engine), await make_workspace(engine)
    person = await make_person(store, ws, engine)
    with pytest.raises(NotFound):
        await erase_contact(engine, other.id, person.contact_id)
    assert (await get_contact(engine, ws.id, person.contact_id))["name"] == person.name


async def test_a_redelivered_provider_message_of_an_erased_contact_is_not_stored_again(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    await erase_contact(engine, ws.id, person.contact_id)
    with pytest.raises(Gone):
        await store.write(
            Inbound(
                workspace_id=ws.id,
                channel_id=ws.whatsapp,
                direction="in",
                author=Author("contact", None, person.name),
                text=person.texts[0],
                contact_external_id=person.external_ids[0],
                contact_name=person.name,
                provider_message_id=person.provider_ids[0],
            )
        )
    assert person.texts[0] not in await all_rows_text(engine)


async def test_the_same_person_writing_again_after_erasure_starts_a_new_contact(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    await erase_contact(engine, ws.id, person.contact_id)
    result = await store.write(
        Inbound(
            workspace_id=ws.id,
            channel_id=ws.whatsapp,
            direction="in",
            author=Author("contact", None, None),
            text="new start",
            contact_external_id=person.external_ids[0],
            provider_message_id=token("wamid"),
        )
    )
    assert result.created and result.message.seq == 1
    assert result.message.conversation_id not in person.conversation_ids


async def test_a_correction_changes_only_the_fields_given(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    updated = await update_contact(
        engine, ws.id, person.contact_id, {"name": "Ann B.", "attributes": {"vip": True}}
    )
    assert updated["name"] == "Ann B."
    assert updated["attributes"] == {"vip": True}
    assert (updated["email"], updated["phone"]) == (person.email, person.phone)
    assert (await get_contact(engine, ws.id, person.contact_id))["name"] == "Ann B."


async def test_a_correction_may_clear_fields(store: SqlStore, engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    person = await make_person(store, ws, engine)
    await update_contact(engine, ws.id, person.contact_id, {"attributes": {"vip": True}})
    cleared = await update_contact(
        engine, ws.id, person.contact_id, {"email": None, "phone": None, "attributes": {}}
    )
    assert (cleared["email"], cleared["phone"], cleared["attributes"]) == (None, None, {})
    assert cleared["name"] == person.name


async def test_correcting_a_contact_of_another_workspace_is_not_found_and_changes_nothing(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws, other = await make_workspace(engine), await make_workspace(engine)
    person = await make_person(store, ws, engine)
    with pytest.raises(NotFound):
        await update_contact(engine, other.id, person.contact_id, {"name": "Changed"})
    assert (await get_contact(engine, ws.id, person.contact_id))["name"] == person.name


async def test_contacts_are_listed_newest_first_in_pages(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    people = [await make_person(store, ws, engine) for _ in range(3)]
    first, cursor = await list_contacts(engine, ws.id, limit=2)
    assert cursor is not None
    rest, end = await list_contacts(engine, ws.id, limit=2, cursor=cursor)
    assert end is None
    assert [c["id"] for c in first + rest] == [p.contact_id for p in reversed(people)]


async def test_listing_shows_no_contact_of_another_workspace(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws, other = await make_workspace(engine), await make_workspace(engine)
    await make_person(store, ws, engine)
    items, _ = await list_contacts(engine, other.id)
    assert items == []
