"""The restore drill, on SQLite and Postgres: back up, write more, restore into a fresh
database, and the backed-up state is exactly there; an erasure made after the backup
stays in force after the restore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Author, Inbound, utcnow
from storage import backup, migrate, privacy
from storage import models as m
from storage.backup_crypto import BadBackup
from storage.db import make_engine
from storage.store import SqlStore
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.storage.conftest import make_workspace

KEY = "backup-passphrase-long-enough-0123456789"


async def fresh_database(kind: str, tmp_path: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / name}.db"
    return await _create_pg_database()


@pytest.fixture
async def urls(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """A migrated source database and an empty target, of the backend under test."""
    kind = "sqlite" if db_url.startswith("sqlite") else "postgres"
    source = await fresh_database(kind, tmp_path, "source")
    target = await fresh_database(kind, tmp_path, "target")
    engine = make_engine(source)
    await migrate.upgrade(engine)
    await engine.dispose()
    yield source, target
    if kind == "postgres":
        await _drop_pg_database(source)
        await _drop_pg_database(target)


@pytest.fixture
async def source(urls: tuple[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(urls[0])
    yield engine
    await engine.dispose()


async def contact_writes(engine: AsyncEngine, workspace_id: str, channel_id: str, who: str) -> str:
    """A contact's message and an operator's reply; returns the contact id."""
    store = SqlStore(engine)
    try:
        first = await store.write(
            Inbound(
                workspace_id=workspace_id,
                channel_id=channel_id,
                direction="in",
                author=Author("contact", None, who),
                text=f"hello from {who}",
                contact_external_id=who,
                contact_name=who,
                provider_message_id=f"pm-{who}",
            )
        )
        await store.write(
            Inbound(
                workspace_id=workspace_id,
                channel_id=channel_id,
                direction="out",
                author=Author("operator", None, "Ada"),
                text=f"hi {who}",
                conversation_id=first.message.conversation_id,
            )
        )
    finally:
        await store.close()
    async with engine.connect() as conn:
        contact_id = await conn.scalar(
            select(m.Conversation.contact_id).where(
                m.Conversation.id == first.message.conversation_id
            )
        )
    return str(contact_id)


async def everything(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    out = {}
    async with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in await conn.execute(select(table).order_by(*order))]
    return out


async def test_a_restored_backup_holds_exactly_the_backed_up_state(
    urls: tuple[str, str], source: AsyncEngine, tmp_path: Path
) -> None:
    ws = await make_workspace(source)
    await contact_writes(source, ws.id, ws.custom, "ann")
    await contact_writes(source, ws.id, ws.whatsapp, "bob")
    before = await everything(source)
    result = await backup.create_backup(urls[0], tmp_path / "backups", KEY)
    assert result.path.exists() and result.counts["messages"] == 4
    await contact_writes(source, ws.id, ws.custom, "cid")  # written after the backup
    report = await backup.restore_backup(result.path, urls[1], KEY)
    assert report.at_code_head and report.erasures_reapplied == 0
    restored = make_engine(urls[1])
    try:
        assert await everything(restored) == before
    finally:
        await restored.dispose()


async def test_an_erasure_after_the_backup_stays_in_force_after_the_restore(
    urls: tuple[str, str], source: AsyncEngine, tmp_path: Path
) -> None:
    ws = await make_workspace(source)
    erased = await contact_writes(source, ws.id, ws.custom, "ann")
    kept = await contact_writes(source, ws.id, ws.custom, "bob")
    directory = tmp_path / "backups"
    result = await backup.create_backup(urls[0], directory, KEY)
    await privacy.erase_contact(source, ws.id, erased)
    assert await backup.sync_ledger(source, directory) == 1  # what the worker does
    report = await backup.restore_backup(result.path, urls[1], KEY)
    assert report.erasures_reapplied == 1
    restored = make_engine(urls[1])
    try:
        async with restored.connect() as conn:
            contacts = set(await conn.scalars(select(m.Contact.id)))
            texts = set(await conn.scalars(select(m.Message.text)))
        assert contacts == {kept}
        assert texts == {"hello from bob", "hi bob"}
        # A provider redelivering the erased message does not bring it back either.
        async with restored.connect() as conn:
            tombstones = list(await conn.scalars(select(m.ErasedProviderMessage.id_hash)))
        assert len(tombstones) == 1
    finally:
        await restored.dispose()


async def test_a_restore_into_a_database_holding_data_is_refused_untouched(
    urls: tuple[str, str], source: AsyncEngine, tmp_path: Path
) -> None:
    ws = await make_workspace(source)
    await contact_writes(source, ws.id, ws.custom, "ann")
    result = await backup.create_backup(urls[0], tmp_path / "backups", KEY)
    await contact_writes(source, ws.id, ws.custom, "bob")
    before = await everything(source)
    with pytest.raises(backup.BackupError, match="already holds data"):
        await backup.restore_backup(result.path, urls[0], KEY)
    assert await everything(source) == before


async def test_a_wrong_key_or_a_damaged_file_is_refused_before_anything_is_touched(
    urls: tuple[str, str], source: AsyncEngine, tmp_path: Path
) -> None:
    await make_workspace(source)
    result = await backup.create_backup(urls[0], tmp_path / "backups", KEY)
    with pytest.raises(BadBackup, match="key is wrong"):
        await backup.restore_backup(result.path, urls[1], "another-passphrase-0123456789-abcdef")
    damaged = bytearray(result.path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    result.path.write_bytes(bytes(damaged))
    with pytest.raises(BadBackup, match="corrupt"):
        await backup.restore_backup(result.path, urls[1], KEY)
    target = make_engine(urls[1])
    try:
        async with target.connect() as conn:
            tables = await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync))
        assert tables == []
    finally:
        await target.dispose()


async def test_backups_older_than_30_days_are_deleted(
    urls: tuple[str, str], source: AsyncEngine, tmp_path: Path
) -> None:
    directory = tmp_path / "backups"
    now = utcnow()
    old = await backup.create_backup(urls[0], directory, KEY, now=now - timedelta(days=31))
    recent = await backup.create_backup(urls[0], directory, KEY, now=now - timedelta(days=29))
    newest = await backup.create_backup(urls[0], directory, KEY, now=now)
    assert newest.removed == [old.path]
    assert sorted(p for p in directory.iterdir() if backup.backup_time(p)) == [
        recent.path,
        newest.path,
    ]
