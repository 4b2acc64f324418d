"""The batching writer: seq without gaps, idempotent inserts, first contact, outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Attachment, Author, Inbound, as_utc
from hub.store import Gone, NotFound, WriteResult
from storage import models as m
from storage.db import make_engine, sessionmaker
from storage.serialize import conversation_to_wire
from storage.store import SqlStore
from storage.writer_sql import provider_id_hash

from .conftest import Workspace, make_workspace

CONTACT = Author("contact", None, "Ann")


def inbound(ws: Workspace, sender: str = "+4915100000", **kw: object) -> Inbound:
    values: dict[str, object] = {
        "workspace_id": ws.id,
        "channel_id": ws.custom,
        "direction": "in",
        "author": CONTACT,
        "text": "hello",
        "contact_external_id": sender,
        "contact_name": "Ann",
    }
    values.update(kw)
    return Inbound(**values)  # type: ignore[arg-type]


async def count(engine: AsyncEngine, model: type, *where: object) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model).where(*where)))


async def test_first_message_from_a_sender_creates_contact_and_conversation(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    result = await store.write(inbound(workspace))
    assert result.created and result.message.seq == 1
    assert result.conversation is not None
    assert result.conversation["contact"]["name"] == "Ann"
    assert (
        await count(engine, m.ContactIdentity, m.ContactIdentity.channel_id == workspace.custom)
        == 1
    )


async def test_a_first_contact_announces_its_conversation_as_it_is_stored(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    """The writer does not read back the conversation it just added: what it announces
    must still be what a read of the stored rows shows."""
    result = await store.write(inbound(workspace))
    async with sessionmaker(engine)() as db:
        conv = await db.get_one(m.Conversation, result.message.conversation_id)
        channel = await db.get_one(m.Channel, conv.channel_id)
        contact = await db.get_one(m.Contact, conv.contact_id)
        stored = conversation_to_wire(conv, channel, contact, result.message)
    assert result.conversation == stored


async def test_later_messages_from_the_sender_join_the_same_conversation(
    store: SqlStore, workspace: Workspace
) -> None:
    first = await store.write(inbound(workspace))
    second = await store.write(inbound(workspace, text="again"))
    assert second.message.conversation_id == first.message.conversation_id
    assert second.message.seq == 2
    assert second.conversation is None


async def test_a_new_senders_conversation_is_announced_once_with_its_first_message(
    store: SqlStore, workspace: Workspace
) -> None:
    results = await asyncio.gather(
        *(store.write(inbound(workspace, text=f"m{i}")) for i in range(3))
    )
    announced = [r.message.seq for r in results if r.conversation is not None]
    assert announced == [1]


async def test_concurrent_writes_get_consecutive_seqs(
    store: SqlStore, workspace: Workspace
) -> None:
    first = await store.write(inbound(workspace))
    conv = first.message.conversation_id
    results = await asyncio.gather(
        *(store.write(inbound(workspace, conversation_id=conv, text=f"m{i}")) for i in range(200))
    )
    assert sorted(r.message.seq for r in results) == list(range(2, 202))


async def test_a_resend_with_the_same_client_id_is_stored_once(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    conv = (await store.write(inbound(workspace))).message.conversation_id
    first = await store.write(inbound(workspace, conversation_id=conv, client_id="c-1"))
    again = await store.write(inbound(workspace, conversation_id=conv, client_id="c-1"))
    assert not again.created and again.message.id == first.message.id
    assert await count(engine, m.Message, m.Message.conversation_id == conv) == 2


async def test_duplicates_inside_one_batch_collapse(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    results = await asyncio.gather(
        *(store.write(inbound(workspace, provider_message_id="wamid.1")) for _ in range(5))
    )
    assert len({r.message.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await count(engine, m.Message, m.Message.provider_message_id == "wamid.1") == 1
    assert store.writer.one_by_one == 0  # collapsed in the batch, not by a failed insert


async def test_a_batch_of_new_messages_and_resends_commits_whole(
    store: SqlStore, workspace: Workspace
) -> None:
    conv = (await store.write(inbound(workspace))).message.conversation_id
    await store.write(inbound(workspace, conversation_id=conv, client_id="c-0"))
    results = await asyncio.gather(
        *(
            store.write(inbound(workspace, conversation_id=conv, client_id=f"c-{i % 3}"))
            for i in range(30)
        ),
        *(
            store.write(inbound(workspace, sender=f"+49{i}", provider_message_id=f"w.{i % 4}"))
            for i in range(8)
        ),
    )
    assert sum(r.created for r in results) == 2 + 4
    assert store.writer.one_by_one == 0


async def test_one_bad_message_fails_alone_and_the_one_by_one_retry_is_counted(
    store: SqlStore, workspace: Workspace
) -> None:
    conv = (await store.write(inbound(workspace))).message.conversation_id
    bad = inbound(workspace, conversation_id=conv, payload={"not json": object()})
    results = await asyncio.gather(
        *(store.write(inbound(workspace, conversation_id=conv, text=f"m{i}")) for i in range(5)),
        store.write(bad),
        return_exceptions=True,
    )
    assert [isinstance(r, Exception) for r in results] == [False] * 5 + [True]
    assert store.writer.one_by_one == 1


async def test_a_redelivered_provider_message_is_stored_once(
    store: SqlStore, workspace: Workspace
) -> None:
    first = await store.write(inbound(workspace, provider_message_id="wamid.2"))
    again = await store.write(inbound(workspace, provider_message_id="wamid.2"))
    assert not again.created and again.message.id == first.message.id


async def test_a_conversation_of_another_workspace_is_not_found(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    other = await make_workspace(engine)
    conv = (await store.write(inbound(other))).message.conversation_id
    with pytest.raises(NotFound):
        await store.write(inbound(workspace, conversation_id=conv))


async def test_operator_reply_on_an_external_channel_waits_in_the_outbox(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    conv = (await store.write(inbound(workspace, channel_id=workspace.whatsapp))).message
    reply = await store.write(
        Inbound(
            workspace_id=workspace.id,
            channel_id=workspace.whatsapp,
            direction="out",
            author=Author("operator", "op_1", "Olga"),
            text="hi",
            conversation_id=conv.conversation_id,
        )
    )
    assert reply.message.status == "queued"
    assert await count(engine, m.OutboxItem, m.OutboxItem.message_id == reply.message.id) == 1


async def test_an_erased_provider_message_is_not_resurrected(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            m.ErasedProviderMessage.__table__.insert().values(
                channel_id=workspace.custom,
                id_hash=provider_id_hash(workspace.custom, "wamid.gone"),
            )
        )
    with pytest.raises(Gone):
        await store.write(inbound(workspace, provider_message_id="wamid.gone"))


async def erase(engine: AsyncEngine, channel_id: str, provider_message_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            m.ErasedProviderMessage.__table__.insert().values(
                channel_id=channel_id, id_hash=provider_id_hash(channel_id, provider_message_id)
            )
        )


async def test_an_erased_message_fails_alone_beside_known_and_new_senders(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    await store.write(inbound(workspace, sender="+known"))
    await erase(engine, workspace.custom, "wamid.erased-1")
    await erase(engine, workspace.custom, "wamid.erased-2")
    results = await asyncio.gather(
        store.write(inbound(workspace, sender="+known", provider_message_id="wamid.erased-1")),
        store.write(inbound(workspace, sender="+known", provider_message_id="wamid.kept")),
        store.write(inbound(workspace, sender="+gone", provider_message_id="wamid.erased-2")),
        store.write(inbound(workspace, sender="+new", provider_message_id="wamid.new")),
        return_exceptions=True,
    )
    assert isinstance(results[0], Gone) and isinstance(results[2], Gone)
    kept, new = results[1], results[3]
    assert isinstance(kept, WriteResult) and kept.created and kept.message.seq == 2
    assert isinstance(new, WriteResult) and new.created and new.message.seq == 1
    # The erased message's sender is not created for it.
    assert await count(engine, m.ContactIdentity, m.ContactIdentity.external_id == "+gone") == 0
    assert store.writer.one_by_one == 0


async def test_a_provider_id_stored_earlier_and_repeated_in_a_batch_is_stored_once(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    first = await store.write(inbound(workspace, provider_message_id="wamid.3"))
    results = await asyncio.gather(
        *(store.write(inbound(workspace, provider_message_id="wamid.3")) for _ in range(3)),
        *(store.write(inbound(workspace, provider_message_id="wamid.4")) for _ in range(3)),
    )
    assert [r.created for r in results[:3]] == [False] * 3
    assert {r.message.id for r in results[:3]} == {first.message.id}
    assert sum(r.created for r in results[3:]) == 1
    assert len({r.message.id for r in results[3:]}) == 1
    assert await count(engine, m.Message, m.Message.provider_message_id == "wamid.4") == 1
    assert store.writer.one_by_one == 0


async def test_a_senders_resend_by_client_id_is_stored_once(
    store: SqlStore, workspace: Workspace
) -> None:
    """A client id needs the sender's conversation, which the first lookup does not know."""
    first = await store.write(inbound(workspace, client_id="k-1"))
    again = await store.write(inbound(workspace, client_id="k-1"))
    assert not again.created and again.message.id == first.message.id


async def test_replay_returns_exactly_the_messages_after_a_seq(
    store: SqlStore, workspace: Workspace
) -> None:
    conv = (await store.write(inbound(workspace))).message.conversation_id
    for i in range(5):
        await store.write(inbound(workspace, conversation_id=conv, text=f"m{i}"))
    replayed = await store.replay(workspace.id, conv, 3, 100)
    assert [m.seq for m in replayed] == [4, 5, 6]


@pytest.fixture
async def two_writers(engine: AsyncEngine, db_url: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """Two stores on their own engines: two hub processes on one database."""
    other_engine = make_engine(db_url)
    a, b = SqlStore(engine), SqlStore(other_engine)
    yield a, b
    await a.close()
    await b.close()
    await other_engine.dispose()


async def test_two_writers_on_one_database_never_share_a_seq(
    two_writers: tuple[SqlStore, SqlStore], workspace: Workspace
) -> None:
    a, b = two_writers
    conv = (await a.write(inbound(workspace))).message.conversation_id
    results = await asyncio.gather(
        *(
            (a if i % 2 else b).write(inbound(workspace, conversation_id=conv, text=str(i)))
            for i in range(100)
        )
    )
    assert sorted(r.message.seq for r in results) == list(range(2, 102))


async def test_a_resend_racing_on_another_writer_is_stored_once(
    two_writers: tuple[SqlStore, SqlStore], workspace: Workspace, engine: AsyncEngine
) -> None:
    a, b = two_writers
    conv = (await a.write(inbound(workspace))).message.conversation_id
    resends = [
        (a if i % 2 else b).write(inbound(workspace, conversation_id=conv, client_id="r-1"))
        for i in range(20)
    ]
    results = await asyncio.gather(*resends)
    assert len({r.message.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await count(engine, m.Message, m.Message.client_id == "r-1") == 1


async def test_a_copy_in_another_workspace_conversation_is_never_handed_out(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    other = await make_workspace(engine)
    conv = (await store.write(inbound(other))).message.conversation_id
    await store.write(inbound(other, conversation_id=conv, client_id="c-secret"))
    with pytest.raises(NotFound):
        await store.write(inbound(workspace, conversation_id=conv, client_id="c-secret"))


async def test_an_idle_writer_leaves_no_transaction_open(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    await asyncio.gather(*(store.write(inbound(workspace, text=f"m{i}")) for i in range(50)))
    async with engine.connect() as conn:  # on SQLite this BEGIN IMMEDIATE gets the write lock
        if engine.dialect.name == "postgresql":
            open_elsewhere = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
            assert open_elsewhere == 0


async def test_a_nul_character_from_a_provider_is_stored_not_refused(
    store: SqlStore, workspace: Workspace
) -> None:
    first = await store.write(inbound(workspace, text="a\x00b", provider_message_id="id\x00"))
    again = await store.write(inbound(workspace, provider_message_id="id\x00"))
    assert first.message.text == "a\ufffdb"
    assert again.message.id == first.message.id


async def test_the_planned_columns_are_stored_as_written_and_read_back(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    """Private notes, flow options, a picked option and the sender's ``sent_at`` survive
    the back end's insert (Postgres binds each column as an array)."""
    sent = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    first = await store.write(inbound(workspace, channel_id=workspace.whatsapp, sent_at=sent))
    conv = first.message.conversation_id
    olga = Author("operator", "op_1", "Olga")
    offer = {"options": [{"label": "Yes", "value": "y"}]}
    on_wa = {"conversation_id": conv, "channel_id": workspace.whatsapp}
    note, offered, picked = [
        (await store.write(i)).message
        for i in (
            inbound(workspace, **on_wa, direction="out", author=olga, private=True),
            inbound(workspace, **on_wa, direction="out", author=olga, payload=offer),
            inbound(workspace, **on_wa, payload={"option": "y"}),
        )
    ]
    replayed = {r.id: r for r in await store.replay(workspace.id, conv, 0, 10)}
    assert as_utc(replayed[first.message.id].sent_at) == first.message.sent_at == sent  # type: ignore[arg-type]
    assert replayed[note.id].private and replayed[note.id].status == note.status
    assert replayed[offered.id].options == offered.options == (("Yes", "y"),)
    assert replayed[picked.id].option == picked.option == "y"
    assert replayed[picked.id].sent_at is None
    queued = await count(engine, m.OutboxItem, m.OutboxItem.message_id.in_([note.id, offered.id]))
    assert queued == 1  # the reply leaves through WhatsApp, the note never does
    assert (note.status, offered.status) == ("sent", "queued")


async def test_a_resend_returns_the_stored_files_and_payload_as_written(
    store: SqlStore, workspace: Workspace
) -> None:
    """The writer reads its earlier copies back itself (on Postgres straight from the
    driver, which must hand JSON columns over decoded, as SQLAlchemy does)."""
    photo = Attachment(url="https://example.com/a.jpg", mime="image/jpeg", name="a.jpg")
    offer = {"options": [{"label": "Yes", "value": "y"}]}
    first = await store.write(inbound(workspace, attachments=(photo,), payload=offer))
    again = await store.write(inbound(workspace, id=first.message.id, text="other"))
    assert not again.created
    assert again.message.attachments == (photo,)
    assert again.message.options == (("Yes", "y"),)
