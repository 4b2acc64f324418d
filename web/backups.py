"""Where backups go and with which key (:class:`web.config.Settings`); the jobs that use them.

``INVIARO_BACKUP_DIR``: the directory ``inviaro backup`` writes to by default, where the
worker writes a backup daily and keeps the erasure ledger (unset: no automatic backups).
``INVIARO_BACKUP_KEY``: the passphrase (32+ characters) backups are encrypted with; keep
it away from the backups themselves. Only the CLI, the worker and the erasure hook use
them (see :mod:`storage.backup` for the file and the ledger).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from hub.model import utcnow
from storage import backup

if TYPE_CHECKING:
    from web.config import Settings
    from web.services import Services

log = logging.getLogger("inviaro.backup")

DIR_ENV = "INVIARO_BACKUP_DIR"
KEY_ENV = "INVIARO_BACKUP_KEY"
EVERY_S = 24 * 3600.0


def backup_dir(settings: Settings) -> Path | None:
    return Path(settings.backup_dir) if settings.backup_dir else None


def backup_key(settings: Settings) -> str | None:
    return settings.backup_key


async def sync_ledger(services: Services) -> None:
    """Copy new erasure-ledger entries beside the backups (when there is a directory)."""
    directory = backup_dir(services.settings)
    if directory is None or not directory.is_dir():
        return
    try:
        added = await backup.sync_ledger(services.engine, directory)
    except OSError as exc:
        log.warning("erasure ledger: cannot write beside the backups (%s)", exc.strerror)
        return
    if added:
        log.info("erasure ledger: %d new entries beside the backups", added)


async def daily_backup(services: Services) -> None:
    """Write a backup when configured and the newest one is a day old; never raises."""
    directory, key = backup_dir(services.settings), backup_key(services.settings)
    if directory is None or key is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        newest = backup.newest_backup(directory)
        if newest is not None and (utcnow() - newest).total_seconds() < EVERY_S:
            return
        result = await backup.create_backup(services.settings.database_url, directory, key)
        log.info("backup written: %s (%d old removed)", result.path.name, len(result.removed))
    except Exception as exc:
        log.error("daily backup failed: %s", exc)
