"""Where backups go and with which key (from :class:`web.config.Settings`); the jobs.

``INVIARO_BACKUP_DIR`` (``Settings.backup_to``): a directory, or an S3-compatible bucket
as ``s3://bucket/prefix`` (endpoint ``INVIARO_BACKUP_S3_ENDPOINT``, region
``INVIARO_BACKUP_S3_REGION``, keys ``INVIARO_BACKUP_S3_ACCESS_KEY_ID`` and
``INVIARO_BACKUP_S3_SECRET_ACCESS_KEY``, or boto3's own chain when unset). It is where
``inviaro backup`` writes by default, where the worker writes a backup daily and where
the erasure ledger is kept (unset: no automatic backups). ``INVIARO_BACKUP_KEY``: the
passphrase (32+ characters) backups are encrypted with; keep it away from the backups.

A bucket gets exactly what a directory gets: the backup file (written in a scratch
directory first, then uploaded), backups older than 30 days deleted, and the erasure
ledger ``erasure-ledger.jsonl`` beside them (fetched, appended to, put back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.model import as_utc, utcnow
from storage import backup
from web.config import Settings

if TYPE_CHECKING:
    from adapters import s3_backups as s3
    from web.services import Services

log = logging.getLogger("inviaro.backup")

DIR_ENV = "INVIARO_BACKUP_DIR"
KEY_ENV = "INVIARO_BACKUP_KEY"
EVERY_S = 24 * 3600.0


def is_s3(target: str) -> bool:
    return target.startswith("s3://")


def endpoint(settings: Settings) -> s3.Endpoint:
    from adapters import s3_backups as s3

    return s3.Endpoint(
        url=settings.backup_s3_endpoint,
        region=settings.backup_s3_region,
        access_key_id=settings.backup_s3_access_key_id,
        secret_access_key=settings.backup_s3_secret_access_key,
    )


@dataclass(frozen=True, slots=True)
class Written:
    """One backup written: where (a path or an s3:// URL), and what it holds."""

    location: str
    dialect: str
    counts: dict[str, int]
    removed: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def _ledger_in(settings: Settings, target: s3.S3Target) -> AsyncIterator[Path]:
    """A scratch directory holding the bucket's ledger; put back when it grew."""
    from adapters import s3_backups as s3

    client = s3.client(endpoint(settings))
    with tempfile.TemporaryDirectory(prefix="inviaro-s3-") as scratch:
        directory = Path(scratch)
        ledger = directory / backup.LEDGER_FILE
        await asyncio.to_thread(s3.download, client, target, backup.LEDGER_FILE, ledger)
        before = ledger.stat().st_size if ledger.exists() else 0
        yield directory
        if ledger.exists() and ledger.stat().st_size != before:
            await asyncio.to_thread(s3.upload, client, target, ledger)


def _prune_s3(client: Any, target: s3.S3Target, now: datetime) -> list[str]:
    from adapters import s3_backups as s3

    old = [
        name
        for name in s3.names(client, target)
        if (made := backup.backup_time(Path(name))) is not None
        and made < now - timedelta(days=backup.KEEP_DAYS)
    ]
    s3.delete(client, target, old)
    return [target.url + name for name in old]


async def write_backup(
    settings: Settings, to: str, key: str, *, now: datetime | None = None
) -> Written:
    """One backup to a directory or an ``s3://`` target, then the 30-day pruning there.

    Raises what :func:`storage.backup.create_backup` raises, :class:`s3.S3Error` for the
    bucket, or ValueError for a malformed ``s3://`` URL; each says one sentence."""
    from adapters import s3_backups as s3

    now = as_utc(now or utcnow())
    if not is_s3(to):
        result = await backup.create_backup(settings.database_url, Path(to), key, now=now)
        removed = [str(p) for p in result.removed]
        return Written(str(result.path), result.dialect, result.counts, removed)
    target = s3.parse_target(to)
    async with _ledger_in(settings, target) as scratch:
        result = await backup.create_backup(settings.database_url, scratch, key, now=now)
        client = s3.client(endpoint(settings))
        stored = await asyncio.to_thread(s3.upload, client, target, result.path)
        removed = await asyncio.to_thread(_prune_s3, client, target, now)
    return Written(f"s3://{target.bucket}/{stored}", result.dialect, result.counts, removed)


async def fetch_backup(settings: Settings, url: str, into: Path) -> tuple[Path, Path | None]:
    """Download an ``s3://…/file.ivb`` and the ledger beside it into ``into``; returns
    the file's path and the ledger's (None when the bucket has none)."""
    from adapters import s3_backups as s3

    parent, _, name = url.rstrip("/").rpartition("/")
    target = s3.parse_target(parent)
    client = s3.client(endpoint(settings))
    file = into / name
    if not await asyncio.to_thread(s3.download, client, target, name, file):
        raise s3.S3Error(f"There is no backup at {url}.")
    ledger = into / backup.LEDGER_FILE
    has_ledger = await asyncio.to_thread(s3.download, client, target, backup.LEDGER_FILE, ledger)
    return file, ledger if has_ledger else None


async def _newest(settings: Settings, to: str) -> datetime | None:
    if not is_s3(to):
        directory = Path(to)
        return backup.newest_backup(directory) if directory.is_dir() else None
    from adapters import s3_backups as s3

    target = s3.parse_target(to)
    client = s3.client(endpoint(settings))
    found = await asyncio.to_thread(s3.names, client, target)
    return max((t for n in found if (t := backup.backup_time(Path(n)))), default=None)


async def sync_ledger(services: Services) -> None:
    """Copy new erasure-ledger entries beside the backups (when there are backups)."""
    settings: Settings = services.settings
    to = settings.backup_to
    if to is None:
        return
    engine = services.engine
    try:
        if is_s3(to):
            added = await _sync_ledger_s3(settings, engine, to)
        elif Path(to).is_dir():
            added = await backup.sync_ledger(engine, Path(to))
        else:
            return
    except OSError as exc:
        log.warning("erasure ledger: cannot write beside the backups (%s)", exc.strerror)
        return
    if added:
        log.info("erasure ledger: %d new entries beside the backups", added)


async def _sync_ledger_s3(settings: Settings, engine: Any, to: str) -> int:
    from adapters import s3_backups as s3

    try:
        async with _ledger_in(settings, s3.parse_target(to)) as scratch:
            return await backup.sync_ledger(engine, scratch)
    except (s3.S3Error, ValueError) as exc:
        log.warning("erasure ledger: %s", exc)
        return 0


async def daily_backup(services: Services) -> None:
    """Write a backup when configured and the newest one is a day old; never raises."""
    settings: Settings = services.settings
    to, key = settings.backup_to, settings.backup_key
    if to is None or key is None:
        return
    try:
        newest = await _newest(settings, to)
        if newest is not None and (utcnow() - newest).total_seconds() < EVERY_S:
            return
        written = await write_backup(settings, to, key)
        log.info("backup written: %s (%d old removed)", written.location, len(written.removed))
    except Exception as exc:
        log.error("daily backup failed: %s", exc)
