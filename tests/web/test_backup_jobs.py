"""The jobs around backups: the worker's daily backup and the erasure ledger's upkeep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import backup, migrate
from storage.db import make_engine
from storage.ledger import erased_contact_hash
from storage.store import SqlStore
from tests.conftest import make_settings, start_server
from tests.helpers import signup
from tests.web.test_contacts import write_contact
from web import backups

KEY = "backup-passphrase-long-enough-0123456789"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


async def test_the_worker_backs_up_once_a_day_when_configured(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    directory = tmp_path / "backups"
    settings = make_settings(url, backup_to=str(directory), backup_key=KEY)
    services = SimpleNamespace(settings=settings)
    await backups.daily_backup(services)
    await backups.daily_backup(services)  # the newest is younger than a day: nothing
    made = [p for p in directory.iterdir() if backup.backup_time(p)]
    assert len(made) == 1


async def test_without_a_directory_the_worker_writes_no_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(backups.DIR_ENV, str(tmp_path))  # the environment is not read here
    settings = make_settings(f"sqlite:///{tmp_path / 'unused.db'}", backup_key=KEY)
    services = SimpleNamespace(settings=settings)
    await backups.daily_backup(services)
    assert list(tmp_path.iterdir()) == []


async def test_an_erasure_reaches_the_ledger_beside_the_backups_at_once(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    live, server, task = await start_server(make_settings(db_url, backup_to=str(tmp_path)))
    try:
        async with live.client() as client:
            await _erase_one(client, engine, tmp_path)
    finally:
        server.should_exit = True
        await task


async def _erase_one(client: httpx.AsyncClient, engine: AsyncEngine, tmp_path: Path) -> None:
    owner = await signup(client)
    store = SqlStore(engine)
    try:
        contact = await write_contact(store, engine, owner.workspace_id)
    finally:
        await store.close()
    assert (await owner.delete(f"/api/contacts/{contact.id}")).status_code == 204
    entries = backup.read_ledger(tmp_path / backup.LEDGER_FILE)
    hashed = erased_contact_hash(owner.workspace_id, contact.id)
    assert hashed in [e["contact_hash"] for e in entries]
    text = (tmp_path / backup.LEDGER_FILE).read_text()
    assert contact.id not in text and contact.name not in text
