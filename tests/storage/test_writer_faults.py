"""The batching writer under faults: lost connections, races between processes, locks held
elsewhere, a full queue; and whose ``client_id`` a resend is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Author
from hub.store import Unavailable
from storage import migrate
from storage.db import make_engine
from storage.store import SqlStore
from tests.conftest import PG_URL, _create_pg_database, _drop_pg_database

from .conftest import Workspace, make_workspace
from .test_writer import inbound

OPERATOR = Author("operator", "op_1", "Olga")


async def test_a_visitors_and_an_operators_equal_client_id_are_two_messages(
    store: SqlStore, workspace: Workspace
) -> None:
    conv = (await store.write(inbound(workspace))).message.conversation_id
    visitor = Author("contact", "ct_1", "Ann")
    asked = await store.write(
        inbound(workspace, conversation_id=conv, author=visitor, client_id="1")
    )
    reply = await store.write(
        inbound(
            workspace,
            conversation_id=conv,
            author=OPERATOR,
            direction="out",
            text="an answer",
            client_id="1",
        )
    )
    assert reply.created and reply.message.id != asked.message.id
    assert reply.message.text == "an answer" and reply.message.seq == asked.message.seq + 1
    again = await store.write(
        inbound(workspace, conversation_id=conv, author=OPERATOR, direction="out", client_id="1")
    )
    assert not again.created and again.message.id == reply.message.id  # the operator's resend


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A migrated Postgres database of this test alone (its connections get terminated)."""
    url = await _create_pg_database()
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    yield url
    await _drop_pg_database(url)


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pg_url)
    yield engine
    await engine.dispose()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _terminate_connections(url: str) -> int:
    """What a Postgres restart does to this database's sessions (the server stays up)."""
    admin = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    try:
        return int(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                make_url(url).database,
            )
        )
    finally:
        await admin.close()


async def test_the_first_write_after_the_database_dropped_every_connection_succeeds(
    pg_engine: AsyncEngine,
) -> None:
    store = SqlStore(pg_engine)
    ws = await make_workspace(pg_engine)
    try:
        first = await store.write(inbound(ws))
        assert await _terminate_connections(str(pg_engine.url)) >= 1
        after = await store.write(inbound(ws, text="after the restart"))
        assert after.created and after.message.seq == first.message.seq + 1
    finally:
        await store.close()


async def _until_no_sessions(url: str, timeout: float = 30.0) -> None:
    """Wait until every session of the database has ended (a terminated backend exits a
    moment after ``pg_terminate_backend`` returns)."""
    admin = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", make_url(url).database
        ):
            assert asyncio.get_running_loop().time() < deadline, "the sessions did not end"
            await asyncio.sleep(0.01)
    finally:
        await admin.close()


async def test_a_pooled_connection_the_database_closed_is_replaced_before_it_is_used(
    pg_url: str,
) -> None:
    """Without a ping on every checkout (no pool_pre_ping): the driver saw the socket
    close, so the pool hands out a new connection instead of failing a statement."""
    engine = make_engine(pg_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        assert await _terminate_connections(pg_url) >= 1
        await _until_no_sessions(pg_url)
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def _until_waiting_on_locks(url: str, sessions: int, timeout: float = 30.0) -> None:
    """Wait until ``sessions`` sessions of the database wait for a lock."""
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while (
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
                " AND wait_event_type = 'Lock'",
                make_url(url).database,
            )
            < sessions
        ):
            assert asyncio.get_running_loop().time() < deadline, "nobody waited for the lock"
            await asyncio.sleep(0.01)
    finally:
        await conn.close()


async def test_one_resend_racing_another_process_returns_the_first_copy(
    pg_url: str, pg_engine: AsyncEngine
) -> None:
    """Each writer sends one message alone (no batch to retry one by one): both looked for
    a copy before either stored it, the loser's insert meets the unique index."""
    other_engine = make_engine(pg_url)
    a, b = SqlStore(pg_engine), SqlStore(other_engine)
    ws = await make_workspace(pg_engine)
    try:
        conv = (await a.write(inbound(ws))).message.conversation_id
        holder = await asyncpg.connect(_asyncpg_dsn(pg_url))
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", conv)
        both = [
            asyncio.create_task(s.write(inbound(ws, conversation_id=conv, client_id="r-1")))
            for s in (a, b)
        ]
        await _until_waiting_on_locks(pg_url, 2)
        await tx.rollback()
        await holder.close()
        first, second = await asyncio.gather(*both)
        assert first.message.id == second.message.id
        assert sorted([first.created, second.created]) == [False, True]
    finally:
        await a.close()
        await b.close()
        await other_engine.dispose()


async def test_a_batch_that_loses_a_race_is_retried_whole_not_one_by_one(
    pg_url: str, pg_engine: AsyncEngine
) -> None:
    """Two processes' batches each carry the same resend, held up behind a lock until both
    have looked for copies: the one that commits second meets the unique index, and its
    whole batch is retried once, finding the other's copy."""
    other_engine = make_engine(pg_url)
    a, b = SqlStore(pg_engine), SqlStore(other_engine)
    ws = await make_workspace(pg_engine)
    try:
        conv = (await a.write(inbound(ws))).message.conversation_id
        holder = await asyncpg.connect(_asyncpg_dsn(pg_url))
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", conv)
        batches = [
            [
                asyncio.create_task(s.write(inbound(ws, conversation_id=conv, client_id="r-1"))),
                asyncio.create_task(s.write(inbound(ws, conversation_id=conv, text=name))),
            ]
            for s, name in ((a, "a"), (b, "b"))
        ]
        await _until_waiting_on_locks(pg_url, 2)
        await tx.rollback()
        await holder.close()
        (resend_a, text_a), (resend_b, text_b) = [await asyncio.gather(*t) for t in batches]
        assert resend_a.message.id == resend_b.message.id
        assert sorted([resend_a.created, resend_b.created]) == [False, True]
        assert text_a.created and text_b.created
        assert a.writer.one_by_one == b.writer.one_by_one == 0
    finally:
        await a.close()
        await b.close()
        await other_engine.dispose()


async def test_a_first_contact_another_process_added_meanwhile_is_theirs_and_ours_is_dropped(
    pg_url: str, pg_engine: AsyncEngine
) -> None:
    """Another process has added the sender's contact and identity, not yet committed: our
    identity insert waits on the unique index, then finds theirs. The message goes into a
    conversation of their contact; the contact made for it here is deleted again."""
    store = SqlStore(pg_engine)
    ws = await make_workspace(pg_engine)
    other = await asyncpg.connect(_asyncpg_dsn(pg_url))
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute(
            "INSERT INTO contacts (id, workspace_id, name, attributes, created_at, updated_at)"
            " VALUES ('ct_theirs', $1, 'Ann', '{}', now(), now())",
            ws.id,
        )
        await other.execute(
            "INSERT INTO contact_identities"
            " (id, workspace_id, channel_id, contact_id, external_id, created_at)"
            " VALUES ('ci_theirs', $1, $2, 'ct_theirs', 'race-1', now())",
            ws.id,
            ws.custom,
        )
        writing = asyncio.create_task(store.write(inbound(ws, sender="race-1")))
        await _until_waiting_on_locks(pg_url, 1)
        await tx.commit()
        result = await writing
        assert result.created and result.conversation is not None
        assert result.conversation["contact"]["id"] == "ct_theirs"
        contacts = await other.fetchval(
            "SELECT count(*) FROM contacts WHERE workspace_id = $1", ws.id
        )
        assert contacts == 1
    finally:
        await other.close()
        await store.close()


async def test_a_conversation_locked_elsewhere_fails_only_its_own_messages(
    pg_url: str, pg_engine: AsyncEngine
) -> None:
    store = SqlStore(pg_engine)
    ws = await make_workspace(pg_engine)
    try:
        held = (await store.write(inbound(ws, "+1"))).message.conversation_id
        free = (await store.write(inbound(ws, "+2"))).message.conversation_id
        holder = await asyncpg.connect(_asyncpg_dsn(pg_url))  # a frozen process, say
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", held)
        outcomes = await asyncio.gather(
            store.write(inbound(ws, conversation_id=held, text="stuck")),
            *(store.write(inbound(ws, conversation_id=free, text=f"m{n}")) for n in range(5)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], Unavailable)
        assert all(not isinstance(o, BaseException) for o in outcomes[1:])
        # Later messages are not held up by it again: refused at once while it is locked.
        later = await asyncio.gather(
            store.write(inbound(ws, conversation_id=held, text="still stuck")),
            store.write(inbound(ws, conversation_id=free, text="later")),
            return_exceptions=True,
        )
        assert isinstance(later[0], Unavailable) and not isinstance(later[1], BaseException)
        await tx.rollback()
        await holder.close()
        unstuck = await store.write(inbound(ws, conversation_id=held, text="free again"))
        assert unstuck.created
    finally:
        await store.close()


async def test_a_known_senders_conversation_locked_elsewhere_fails_only_their_messages(
    pg_url: str, pg_engine: AsyncEngine
) -> None:
    """The lookup that waited for the lock knew the conversation only by its sender."""
    store = SqlStore(pg_engine)
    ws = await make_workspace(pg_engine)
    try:
        held = (await store.write(inbound(ws, "+1"))).message.conversation_id
        await store.write(inbound(ws, "+2"))
        holder = await asyncpg.connect(_asyncpg_dsn(pg_url))
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", held)
        outcomes = await asyncio.gather(
            store.write(inbound(ws, "+1", text="stuck")),
            store.write(inbound(ws, "+2", text="free")),
            store.write(inbound(ws, "+3", text="new")),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], Unavailable)
        assert all(not isinstance(o, BaseException) for o in outcomes[1:])
        assert not store.health.down  # a busy conversation, not an outage
        await tx.rollback()
        await holder.close()
        assert (await store.write(inbound(ws, "+1", text="free again"))).created
    finally:
        await store.close()


async def test_past_the_backlog_bound_a_write_is_refused_at_once(
    pg_url: str, pg_engine: AsyncEngine
) -> None:
    store = SqlStore(pg_engine, max_backlog=3)
    ws = await make_workspace(pg_engine)
    try:
        conv = (await store.write(inbound(ws))).message.conversation_id
        async with pg_engine.connect() as locker:
            await locker.execute(text("LOCK TABLE messages IN EXCLUSIVE MODE"))  # a stall
            in_flight = asyncio.create_task(store.write(inbound(ws, conversation_id=conv)))
            await _until_waiting_on_locks(pg_url, 1)
            queued = [
                asyncio.create_task(store.write(inbound(ws, conversation_id=conv, text=str(n))))
                for n in range(3)
            ]
            await asyncio.sleep(0)  # they are queued behind the commit in flight
            with pytest.raises(Unavailable):
                await store.write(inbound(ws, conversation_id=conv, text="one too many"))
            assert not in_flight.done()
            await locker.rollback()
        await asyncio.gather(in_flight, *queued, return_exceptions=True)
    finally:
        await store.close()
