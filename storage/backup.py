"""Backups that restore: one consistent, compressed, encrypted file, and its restore.

A backup file (``inviaro-backup-<UTC time>.ivb``) is a gzip-compressed tar of

- ``manifest.json``: format, time, dialect, the migration head and every table's row count,
  all read from the same snapshot as the dump;
- the database: ``database.dump`` from ``pg_dump --format=custom`` run on a snapshot
  exported by the transaction that counted the rows (Postgres), or ``database.sqlite``
  from SQLite's online backup API (a consistent copy while the hub keeps writing),

encrypted as a whole with :mod:`storage.backup_crypto`. There are no media files to back
up: the hub stores none (WhatsApp media is fetched from the provider on demand, widget
attachments are links). Backups older than :data:`KEEP_DAYS` in the directory are deleted
by every backup run.

**The erasure ledger.** Restoring a backup taken before an erasure would bring the erased
contact back. Every erasure writes the workspace id and a one-way hash
of the contact id (erasure leaves no id behind; never content) to the ``erasure_ledger``
table, and :func:`sync_ledger` copies new entries to
``erasure-ledger.jsonl`` beside the backups: on every backup, at once from the process
that erased when it sees the backup directory, and every minute from the worker. The file
lives outside the backed-up tables on purpose: :func:`restore_backup` re-applies every
entry to the restored database, so an erasure made after the backup stays in force.

:func:`restore_backup` refuses before touching anything when the file does not decrypt
and authenticate completely (wrong key, damage), when it is for the other database kind,
or when the target database already holds data; then it restores, checks row counts and
the migration head against the manifest, and re-applies the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.model import as_utc, rfc3339, utcnow
from hub.store import NotFound
from storage import models as m
from storage.backup_crypto import EncryptingWriter, decrypt
from storage.db import is_sqlite, make_engine
from storage.ledger import erased_contact_hash
from storage.migrate import MIGRATIONS
from storage.models import table_of
from storage.privacy import erase_contact

PREFIX = "inviaro-backup-"
SUFFIX = ".ivb"
LEDGER_FILE = "erasure-ledger.jsonl"
MANIFEST_FORMAT = "inviaro.backup/1"
KEEP_DAYS = 30
_STAMP = "%Y%m%dT%H%M%SZ"
_PG_DUMP, _SQLITE_DUMP, _MANIFEST = "database.dump", "database.sqlite", "manifest.json"
T_LEDGER = table_of(m.ErasureLedgerEntry)
T_CONTACT = table_of(m.Contact)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one sentence."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    dialect: str
    counts: dict[str, int]
    removed: list[Path] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RestoreReport:
    dialect: str
    created_at: str
    counts: dict[str, int]
    migration_head: str | None
    at_code_head: bool
    erasures_reapplied: int


# ---------------------------------------------------------------- helpers


def code_head() -> str | None:
    """The newest migration this code knows."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _tables() -> list[str]:
    return [str(t.name) for t in m.Base.metadata.sorted_tables]


async def _counts(conn: AsyncConnection) -> dict[str, int]:
    present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    out: dict[str, int] = {}
    for name in _tables():
        if name in present:
            out[name] = int(await conn.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)
    return out


async def _head(conn: AsyncConnection) -> str | None:
    try:
        value = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:
        return None
    return str(value) if value is not None else None


def _pg_env(database_url: str) -> dict[str, str]:
    """libpq's environment for the URL: the password never appears on a command line."""
    url = make_url(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


async def _run(args: list[str], env: dict[str, str]) -> None:
    if shutil.which(args[0]) is None:
        raise BackupError(f"{args[0]} is not installed; install the PostgreSQL client tools.")
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        last = (err.decode(errors="replace").strip().splitlines() or ["no detail"])[-1]
        raise BackupError(f"{args[0]} failed: {last}")


def _sqlite_path(database_url: str) -> Path:
    path = make_url(database_url).database
    if not path or path == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(path)


@contextlib.contextmanager
def _scratch(parent: Path | None = None) -> Iterator[Path]:
    """A private directory (0700) for plaintext that must not outlive the operation."""
    path = Path(tempfile.mkdtemp(prefix=".inviaro-scratch-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- backup


async def _dump_postgres(database_url: str, target: Path) -> tuple[dict[str, int], str | None]:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                snapshot = await conn.scalar(text("SELECT pg_export_snapshot()"))
                counts, head = await _counts(conn), await _head(conn)
                # pg_dump reads exactly what this transaction sees, while it stays open.
                await _run(
                    [
                        "pg_dump",
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        "--no-owner",
                        "--no-privileges",
                        f"--file={target}",
                    ],
                    _pg_env(database_url),
                )
        return counts, head
    finally:
        await engine.dispose()


def _dump_sqlite(source: Path, target: Path) -> tuple[dict[str, int], str | None]:
    if not source.exists():
        raise BackupError(f"There is no SQLite database at {source}.")
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)  # the online backup API: a consistent copy beside live writers
        present = {r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counts = {
            name: int(dst.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            for name in _tables()
            if name in present
        }
        row = dst.execute("SELECT version_num FROM alembic_version").fetchone()
        return counts, (str(row[0]) if row else None)
    finally:
        src.close()
        dst.close()


def _write_archive(final: Path, manifest: dict[str, Any], dump: Path, key: str) -> None:
    partial = final.with_name(final.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            sealed = EncryptingWriter(raw, key)
            with (
                gzip.GzipFile(fileobj=sealed, mode="wb", compresslevel=6, mtime=0) as packed,
                tarfile.open(fileobj=packed, mode="w|") as tar,
            ):
                body = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
                info = tarfile.TarInfo(_MANIFEST)
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
                tar.add(dump, arcname=dump.name)
            sealed.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def backup_time(path: Path) -> datetime | None:
    """When a backup file was made, from its name (None: not one of ours)."""
    name = path.name
    if not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
        return None
    try:
        return as_utc(datetime.strptime(name[len(PREFIX) : -len(SUFFIX)], _STAMP))
    except ValueError:
        return None


def prune(directory: Path, now: datetime, keep_days: int = KEEP_DAYS) -> list[Path]:
    """Delete this directory's backups older than ``keep_days``; returns what went."""
    removed = []
    for path in sorted(directory.iterdir()):
        made = backup_time(path)
        if made is not None and made < now - timedelta(days=keep_days):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def newest_backup(directory: Path) -> datetime | None:
    times = [t for p in directory.iterdir() if (t := backup_time(p)) is not None]
    return max(times, default=None)


async def create_backup(
    database_url: str, directory: Path, key: str, *, now: datetime | None = None
) -> BackupResult:
    """Write one backup of the database into ``directory`` and prune old ones.

    Raises :class:`BackupError` (or :class:`BadBackup` for an unusable key) with a
    sentence; a failed run leaves no partial file behind.
    """
    now = as_utc(now or utcnow())
    EncryptingWriter(io.BytesIO(), key)  # a short key fails now, before any work
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{PREFIX}{now.strftime(_STAMP)}{SUFFIX}"
    if final.exists():
        raise BackupError(f"{final} already exists; wait a second and try again.")
    sqlite = is_sqlite(database_url)
    with _scratch(directory) as scratch:
        dump = scratch / (_SQLITE_DUMP if sqlite else _PG_DUMP)
        if sqlite:
            counts, head = await asyncio.to_thread(_dump_sqlite, _sqlite_path(database_url), dump)
        else:
            counts, head = await _dump_postgres(database_url, dump)
        manifest = {
            "format": MANIFEST_FORMAT,
            "created_at": rfc3339(now),
            "dialect": "sqlite" if sqlite else "postgresql",
            "migration_head": head,
            "counts": counts,
            "media": None,  # the hub stores no media files (see the module doc)
        }
        await asyncio.to_thread(_write_archive, final, manifest, dump, key)
    engine = make_engine(database_url)
    try:
        await sync_ledger(engine, directory)
    finally:
        await engine.dispose()
    removed = prune(directory, now)
    return BackupResult(final, "sqlite" if sqlite else "postgresql", counts, removed)


# ---------------------------------------------------------------- the erasure ledger


def read_ledger(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_bytes().splitlines():
        with contextlib.suppress(ValueError):
            entry = orjson.loads(line)
            if isinstance(entry, dict) and entry.get("contact_hash") and entry.get("workspace_id"):
                entries.append({k: str(v) for k, v in entry.items()})
    return entries


async def sync_ledger(engine: AsyncEngine, directory: Path) -> int:
    """Append the ledger table's entries the file lacks; returns how many were added."""
    path = directory / LEDGER_FILE
    known = {e["contact_hash"] for e in read_ledger(path)}
    async with engine.connect() as conn:
        rows = list(await conn.execute(select(T_LEDGER).order_by(T_LEDGER.c.erased_at)))
    lines = []
    for r in rows:
        if r.contact_hash in known:
            continue  # re-applied erasures log the same contact again: once is enough
        known.add(r.contact_hash)
        entry = {
            "workspace_id": r.workspace_id,
            "contact_hash": r.contact_hash,
            "erased_at": rfc3339(r.erased_at),
        }
        lines.append(orjson.dumps(entry) + b"\n")
    if not lines:
        return 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as out:
        out.write(b"".join(lines))
        out.flush()
        os.fsync(out.fileno())
    return len(lines)


async def reapply_ledger(engine: AsyncEngine, entries: list[dict[str, str]]) -> int:
    """Erase again every contact the database holds whose id hashes to a ledger entry;
    returns how many. The ledger keeps no ids, so each listed workspace's contact ids are
    hashed and matched."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        wanted.setdefault(entry["workspace_id"], set()).add(entry["contact_hash"])
    done = 0
    for workspace_id, hashes in wanted.items():
        async with engine.connect() as conn:
            ids = list(
                await conn.scalars(
                    select(T_CONTACT.c.id).where(T_CONTACT.c.workspace_id == workspace_id)
                )
            )
        for contact_id in ids:
            if erased_contact_hash(workspace_id, contact_id) not in hashes:
                continue
            try:
                await erase_contact(engine, workspace_id, contact_id)
            except NotFound:
                continue  # erased meanwhile
            done += 1
    return done


# ---------------------------------------------------------------- restore


def _open_backup(file: Path, scratch: Path, key: str) -> tuple[dict[str, Any], Path]:
    """Decrypt, authenticate and unpack into ``scratch``: the manifest and the dump."""
    plain = scratch / "backup.tar.gz"
    try:
        with file.open("rb") as source, plain.open("wb") as out:
            decrypt(source, out, key)
    except OSError as exc:
        raise BackupError(f"The backup file cannot be read: {exc.strerror}.") from None
    manifest: dict[str, Any] | None = None
    dump: Path | None = None
    try:
        with tarfile.open(plain, mode="r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                if member.name == _MANIFEST:
                    manifest = orjson.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
                elif member.name in (_PG_DUMP, _SQLITE_DUMP):
                    dump = scratch / member.name
                    content = tar.extractfile(member)
                    if content is None:
                        continue
                    with dump.open("wb") as out:
                        shutil.copyfileobj(content, out)
    except (tarfile.TarError, OSError, EOFError, ValueError):
        raise BackupError("The backup file is corrupt: its contents do not unpack.") from None
    plain.unlink()
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT or dump is None:
        raise BackupError("The backup file is not a complete Inviaro backup.")
    return manifest, dump


async def _holds_data(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        for name in names:
            if name == "alembic_version":
                continue
            if await conn.scalar(text(f'SELECT EXISTS (SELECT 1 FROM "{name}")')):
                return True
    return False


async def restore_backup(
    file: Path, database_url: str, key: str, *, ledger: Path | None = None
) -> RestoreReport:
    """Restore ``file`` into the empty database of ``database_url``, check it, and
    re-apply the erasure ledger (``ledger``, default: the one beside ``file``).

    Raises :class:`BackupError` or :class:`BadBackup` with a sentence; every refusal
    (bad key, damaged file, other database kind, a database holding data) comes before
    the database is touched.
    """
    sqlite = is_sqlite(database_url)
    ledger_entries = read_ledger(ledger or file.with_name(LEDGER_FILE))
    with _scratch() as scratch:
        manifest, dump = await asyncio.to_thread(_open_backup, file, scratch, key)
        dialect = "sqlite" if sqlite else "postgresql"
        if manifest.get("dialect") != dialect:
            raise BackupError(
                f"This is a {manifest.get('dialect')} backup; DATABASE_URL is a {dialect} database."
            )
        engine = make_engine(database_url)
        try:
            if sqlite and not _sqlite_path(database_url).exists():
                pass  # nothing there yet: nothing to refuse
            elif await _holds_data(engine):
                raise BackupError(
                    "The database of DATABASE_URL already holds data; restore only into an "
                    "empty database."
                )
        finally:
            await engine.dispose()
        if sqlite:
            await asyncio.to_thread(_restore_sqlite, dump, _sqlite_path(database_url))
        else:
            await _run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                    f"--dbname={make_url(database_url).database}",
                    str(dump),
                ],
                _pg_env(database_url),
            )
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            counts, head = await _counts(conn), await _head(conn)
        _check(manifest, counts, head)
        reapplied = await reapply_ledger(engine, ledger_entries)
    finally:
        await engine.dispose()
    return RestoreReport(
        dialect=dialect,
        created_at=str(manifest.get("created_at")),
        counts=counts,
        migration_head=head,
        at_code_head=head == code_head(),
        erasures_reapplied=reapplied,
    )


def _restore_sqlite(dump: Path, target: Path) -> None:
    for stale in (
        target,
        target.with_name(target.name + "-wal"),
        target.with_name(target.name + "-shm"),
    ):
        stale.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(dump), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _check(manifest: dict[str, Any], counts: dict[str, int], head: str | None) -> None:
    if head != manifest.get("migration_head"):
        raise BackupError(
            f"The restored database is at migration {head}, the backup was at "
            f"{manifest.get('migration_head')}."
        )
    expected = manifest.get("counts") or {}
    for name, rows in expected.items():
        if counts.get(name) != rows:
            raise BackupError(
                f"The restored table {name} has {counts.get(name)} rows; the backup had {rows}."
            )
