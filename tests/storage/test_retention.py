"""Retention: a purge deletes exactly what is past its limit, on SQLite and Postgres.

The database is shared by the whole test run, so each test backdates its own rows and
purges as of now; it asserts on its own workspace's rows, never on other tests' data.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Author, Inbound, utcnow
from storage import models as m
from storage.db import sessionmaker
from storage.retention import purge_expired, run_purge
from storage.store import SqlStore

from .conftest import Workspace, make_workspace


async def set_retention(engine: AsyncEngine, ws: Workspace, days: int | None) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(m.Workspace).where(m.Workspace.id == ws.id).values(retention_days=days)
        )


async def conversation(store: SqlStore, ws: Workspace, messages: int = 2) -> str:
    """A new contact's conversation with ``messages`` inbound messages; its id."""
    sender = f"+49{uuid.uuid4().int % 10**10}"
    conv_id = ""
    for n in range(messages):
        result = await store.write(
            Inbound(
                workspace_id=ws.id,
                channel_id=ws.custom,
                direction="in",
                author=Author("contact", None, "Ann"),
                text=f"text {n}",
                contact_external_id=sender,
            )
        )
        conv_id = result.message.conversation_id
    return conv_id


async def age(engine: AsyncEngine, conv_id: str, days: float) -> None:
    """Make the conversation (and its contact) look ``days`` old."""
    then = utcnow() - timedelta(days=days)
    async with engine.begin() as conn:
        contact_id = await conn.scalar(
            select(m.Conversation.contact_id).where(m.Conversation.id == conv_id)
        )
        await conn.execute(
            update(m.Conversation)
            .where(m.Conversation.id == conv_id)
            .values(last_message_at=then, created_at=then, updated_at=then)
        )
        await conn.execute(
            update(m.Message).where(m.Message.conversation_id == conv_id).values(created_at=then)
        )
        await conn.execute(
            update(m.Contact).where(m.Contact.id == contact_id).values(created_at=then)
        )


async def count(engine: AsyncEngine, model: type, *where: object) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model).where(*where)))


async def conversations_of(engine: AsyncEngine, ws: Workspace) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(m.Conversation.id).where(m.Conversation.workspace_id == ws.id)
        )
        return {r.id for r in rows}


async def test_retention_deletes_exactly_the_conversations_past_the_limit(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    await set_retention(engine, ws, 30)
    old, older, fresh, edge = [await conversation(store, ws) for _ in range(4)]
    await age(engine, old, 31)
    await age(engine, older, 400)
    await age(engine, edge, 29)
    report = await purge_expired(engine, as_of=utcnow())
    assert await conversations_of(engine, ws) == {fresh, edge}
    assert await count(engine, m.Message, m.Message.conversation_id.in_([old, older])) == 0
    assert await count(engine, m.Message, m.Message.conversation_id.in_([fresh, edge])) == 4
    assert report.conversations >= 2 and report.messages >= 4


async def test_as_of_purges_as_if_it_were_that_time(store: SqlStore, engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    await set_retention(engine, ws, 30)
    conv = await conversation(store, ws)
    await age(engine, conv, 29.95)  # 72 minutes short of the limit
    await purge_expired(engine, as_of=utcnow())
    assert await conversations_of(engine, ws) == {conv}
    await purge_expired(engine, as_of=utcnow() + timedelta(hours=2))
    assert await conversations_of(engine, ws) == set()


async def test_retention_deletes_contacts_left_without_conversations(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    await set_retention(engine, ws, 7)
    old, fresh = await conversation(store, ws), await conversation(store, ws)
    await age(engine, old, 8)
    async with engine.connect() as conn:
        contacts = {
            r.id: r.contact_id
            for r in await conn.execute(
                select(m.Conversation.id, m.Conversation.contact_id).where(
                    m.Conversation.id.in_([old, fresh])
                )
            )
        }
    await purge_expired(engine, as_of=utcnow())
    assert await count(engine, m.Contact, m.Contact.id == contacts[old]) == 0
    assert (
        await count(engine, m.ContactIdentity, m.ContactIdentity.contact_id == contacts[old]) == 0
    )
    assert await count(engine, m.Contact, m.Contact.id == contacts[fresh]) == 1


async def test_a_contact_with_a_conversation_still_kept_is_kept(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    await set_retention(engine, ws, 7)
    old = await conversation(store, ws)
    async with engine.connect() as conn:
        contact_id = await conn.scalar(
            select(m.Conversation.contact_id).where(m.Conversation.id == old)
        )
    await age(engine, old, 8)
    async with sessionmaker(engine)() as session, session.begin():
        session.add(
            m.Conversation(
                workspace_id=ws.id, channel_id=ws.widget, contact_id=contact_id, status="open"
            )
        )
    await purge_expired(engine, as_of=utcnow())
    assert len(await conversations_of(engine, ws)) == 1
    assert await count(engine, m.Contact, m.Contact.id == contact_id) == 1


async def test_a_workspace_without_retention_keeps_everything(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws = await make_workspace(engine)
    conv = await conversation(store, ws)
    await age(engine, conv, 4000)
    await purge_expired(engine, as_of=utcnow())
    assert await conversations_of(engine, ws) == {conv}


async def test_a_dry_run_counts_and_deletes_nothing(store: SqlStore, engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    await set_retention(engine, ws, 30)
    old = await conversation(store, ws, messages=3)
    await age(engine, old, 31)
    report = await purge_expired(engine, as_of=utcnow(), dry_run=True)
    assert await conversations_of(engine, ws) == {old}
    assert await count(engine, m.Message, m.Message.conversation_id == old) == 3
    assert report.dry_run and report.conversations >= 1 and report.messages >= 3
    assert report.contacts >= 1
    assert "dry run" in report.summary()
    await purge_expired(engine, as_of=utcnow())  # leave nothing due for other tests


async def test_small_batches_delete_everything_due(store: SqlStore, engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    await set_retention(engine, ws, 1)
    convs = [await conversation(store, ws, messages=3) for _ in range(5)]
    for conv in convs:
        await age(engine, conv, 2)
    await purge_expired(engine, as_of=utcnow(), batch_size=2)
    assert await conversations_of(engine, ws) == set()
    assert await count(engine, m.Message, m.Message.workspace_id == ws.id) == 0
    assert await count(engine, m.Contact, m.Contact.workspace_id == ws.id) == 0


async def test_old_audit_entries_are_purged(engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    now = utcnow()
    async with sessionmaker(engine)() as session, session.begin():
        session.add_all(
            [
                m.AuditEntry(
                    workspace_id=ws.id, actor_kind="system", action="old", at=now - timedelta(91)
                ),
                m.AuditEntry(
                    workspace_id=ws.id, actor_kind="system", action="new", at=now - timedelta(89)
                ),
            ]
        )
    await purge_expired(engine, as_of=now)
    async with engine.connect() as conn:
        actions = (
            await conn.scalars(
                select(m.AuditEntry.action).where(m.AuditEntry.workspace_id == ws.id)
            )
        ).all()
    assert actions == ["new"]


async def test_audit_retention_is_configurable(engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    now = utcnow()
    async with sessionmaker(engine)() as session, session.begin():
        session.add(
            m.AuditEntry(
                workspace_id=ws.id, actor_kind="system", action="x", at=now - timedelta(91)
            )
        )
    await purge_expired(engine, as_of=now, audit_retention_days=365)
    assert await count(engine, m.AuditEntry, m.AuditEntry.workspace_id == ws.id) == 1
    await purge_expired(engine, as_of=now, audit_retention_days=30)
    assert await count(engine, m.AuditEntry, m.AuditEntry.workspace_id == ws.id) == 0


async def test_expired_sessions_are_purged_and_live_ones_kept(engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    now = utcnow()
    async with sessionmaker(engine)() as session, session.begin():
        operator = m.Operator(
            workspace_id=ws.id,
            email=f"{uuid.uuid4().hex}@example.com",
            name="Olga",
            password_hash="x",
            role="admin",
        )
        session.add(operator)
        await session.flush()
        for label, expires, revoked in (
            ("expired", now - timedelta(hours=1), None),
            ("revoked", now + timedelta(days=3), now - timedelta(days=2)),
            ("live", now + timedelta(days=3), None),
        ):
            session.add(
                m.Session(
                    token_hash=uuid.uuid4().hex,
                    operator_id=operator.id,
                    csrf_token=label,
                    expires_at=expires,
                    revoked_at=revoked,
                )
            )
    await purge_expired(engine, as_of=now)
    async with engine.connect() as conn:
        left = (
            await conn.scalars(
                select(m.Session.csrf_token).where(m.Session.operator_id == operator.id)
            )
        ).all()
    assert left == ["live"]


async def test_a_workspace_deleted_past_the_recovery_period_is_purged_completely(
    store: SqlStore, engine: AsyncEngine
) -> None:
    ws, recent = await make_workspace(engine), await make_workspace(engine)
    for w in (ws, recent):
        await conversation(store, w, messages=3)
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(
            update(m.Workspace)
            .where(m.Workspace.id == ws.id)
            .values(deleted_at=now - timedelta(days=91))
        )
        await conn.execute(
            update(m.Workspace)
            .where(m.Workspace.id == recent.id)
            .values(deleted_at=now - timedelta(days=89))
        )
    await purge_expired(engine, as_of=now, batch_size=2)
    for table in m.Base.metadata.sorted_tables:
        if "workspace_id" in table.c:
            assert await count(engine, table, table.c.workspace_id == ws.id) == 0, table.name
    assert await count(engine, m.Workspace, m.Workspace.id == ws.id) == 0
    assert await count(engine, m.Channel, m.Channel.id == ws.whatsapp) == 0
    assert await count(engine, m.Workspace, m.Workspace.id == recent.id) == 1
    assert await count(engine, m.Message, m.Message.workspace_id == recent.id) == 3


async def test_run_purge_opens_its_own_engine_and_summarises(db_url: str) -> None:
    report = await run_purge(db_url, as_of=utcnow(), dry_run=True)
    line = report.summary()
    assert line.startswith("purge as of ") and "conversations:" in line
