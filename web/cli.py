"""The ``inviaro`` command: serve, worker, migrate, create-operator, purge, legal-hold,
backup, restore, loadtest."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hub.model import as_utc
from web import config

log = logging.getLogger("inviaro")


def _settings(port: int | None = None) -> config.Settings:
    try:
        return config.load(port=port)
    except config.ConfigError as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Request lines of our own HTTP client carry URLs with tokens in them: never at info.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def cmd_serve(args: argparse.Namespace) -> int:
    from web.app import create_app
    from web.server import uvicorn_config, uvicorn_server

    settings = _settings(args.port or None)
    app = create_app(settings)
    config = uvicorn_config(
        app, settings, host=args.host, log_level=args.log_level, access_log=args.access_log
    )
    server = uvicorn_server(config, settle=True)
    print(f"Inviaro hub on {settings.public_url} (listening on {args.host}:{settings.port})")
    server.run()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from web.worker import run_worker

    asyncio.run(run_worker(_settings()))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import make_engine

    async def run() -> None:
        engine = make_engine(_settings().database_url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("The database schema is up to date.")
    return 0


def cmd_create_operator(args: argparse.Namespace) -> int:
    from web.auth.accounts import create_workspace_with_owner

    password = args.password or getpass.getpass("Password (at least 10 characters): ")

    async def run() -> None:
        from storage import migrate
        from storage.db import make_engine, sessionmaker

        engine = make_engine(_settings().database_url)
        try:
            await migrate.upgrade(engine)
            async with sessionmaker(engine)() as session, session.begin():
                await create_workspace_with_owner(
                    session,
                    workspace=args.workspace,
                    name=args.name,
                    email=args.email,
                    password=password,
                )
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except ValueError as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 2
    print(f"Created workspace {args.workspace!r} with owner {args.email}.")
    return 0


def cmd_restore_workspace(args: argparse.Namespace) -> int:
    from storage.db import make_engine, sessionmaker
    from web.api.workspace_lifecycle import restore_workspace

    settings = _settings()

    async def run() -> str:
        engine = make_engine(settings.database_url)
        try:
            async with sessionmaker(engine)() as session, session.begin():
                return await restore_workspace(
                    session, args.workspace_id, settings.workspace_recovery_days
                )
        finally:
            await engine.dispose()

    try:
        name = asyncio.run(run())
    except ValueError as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 2
    print(f"Restored workspace {name!r}; its operators can sign in again.")
    return 0


def _as_of(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"inviaro: --as-of must be an RFC 3339 time, not {text!r}") from None
    return as_utc(moment)


def cmd_purge(args: argparse.Namespace) -> int:
    from storage.retention import run_purge

    settings = _settings()
    report = asyncio.run(
        run_purge(
            settings.database_url,
            as_of=_as_of(args.as_of),
            dry_run=args.dry_run,
            audit_retention_days=settings.audit_retention_days,
            workspace_recovery_days=settings.workspace_recovery_days,
            billing_retention_years=settings.billing_retention_years,
            media_dir=settings.media_path,
        )
    )
    print(report.summary())
    return 0


def cmd_legal_hold(args: argparse.Namespace) -> int:
    """Place, list or lift a legal hold as the server admin (audited as ``system``)."""
    from hub.store import NotFound
    from storage import legal_hold
    from storage.db import make_engine, sessionmaker
    from web import audit

    settings = _settings()

    async def run() -> list[str]:
        engine = make_engine(settings.database_url)
        try:
            async with sessionmaker(engine)() as db, db.begin():
                conn = await db.connection()
                if args.action == "list":
                    holds = await legal_hold.list_holds(conn, args.workspace)
                    return [
                        f"{h['id']}  {h['from']} .. {h['to']}  "
                        f"{'lifted ' + h['lifted_at'] if h['lifted_at'] else 'active'}  "
                        f"{h['reason']}"
                        for h in holds
                    ] or ["No legal holds."]
                if args.action == "place":
                    hold = await legal_hold.place(
                        conn, args.workspace, args.start, args.end, args.reason, None
                    )
                    action, lines = "legal_hold_placed", [hold["id"]]
                else:
                    hold = await legal_hold.lift(conn, args.workspace, args.hold_id, None)
                    action, lines = "legal_hold_lifted", [f"Lifted legal hold {hold['id']}."]
                await audit.record(
                    db,
                    workspace_id=args.workspace,
                    actor_kind="system",
                    actor_id=None,
                    action=action,
                    target_kind="legal_hold",
                    target_id=hold["id"],
                )
                return lines
        finally:
            await engine.dispose()

    try:
        lines = asyncio.run(run())
    except legal_hold.InvalidHold as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 2
    except NotFound:
        print("inviaro: there is no such active legal hold.", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def _backup_key(settings: config.Settings) -> str:
    from web.backups import KEY_ENV

    if settings.backup_key is None:
        print(
            f"inviaro: set {KEY_ENV} to the backups' passphrase (32+ characters).", file=sys.stderr
        )
        raise SystemExit(2)
    return settings.backup_key


def cmd_backup(args: argparse.Namespace) -> int:
    """One backup file, to a directory or an S3 bucket; its place is the last line printed."""
    from adapters.s3_backups import S3Error
    from storage.backup import BackupError
    from storage.backup_crypto import BadBackup
    from web.backups import DIR_ENV, write_backup

    settings = _settings()
    to = args.to or settings.backup_to
    if to is None:
        print(
            f"inviaro: say where with --to DIR (or s3://bucket/prefix) or set {DIR_ENV}.",
            file=sys.stderr,
        )
        return 2
    key = _backup_key(settings)
    try:
        result = asyncio.run(write_backup(settings, to, key))
    except (BackupError, BadBackup, S3Error, ValueError) as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"inviaro: cannot write to {to}: {exc.strerror}.", file=sys.stderr)
        return 1
    rows = sum(result.counts.values())
    print(f"Backed up the {result.dialect} database: {len(result.counts)} tables, {rows} rows.")
    print(
        f"Media files are not in the backup: copy {settings.media_path} beside it "
        "(INVIARO_MEDIA_DIR)."
    )
    if result.removed:
        print(f"Removed {len(result.removed)} backups older than 30 days.")
    print(result.location)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore into the empty database of DATABASE_URL; refuse (exit 1) with a sentence.

    ``FILE`` may be an ``s3://bucket/prefix/file.ivb``: it and the bucket's erasure ledger
    are fetched first."""
    import tempfile
    from pathlib import Path

    from adapters.s3_backups import S3Error
    from storage.backup import BackupError, restore_backup
    from storage.backup_crypto import BadBackup
    from web.backups import fetch_backup, is_s3

    settings = _settings()
    key = _backup_key(settings)
    ledger = Path(args.ledger) if args.ledger else None

    async def run(scratch: Path) -> Any:
        file = Path(args.file)
        if is_s3(args.file):
            file, fetched = await fetch_backup(settings, args.file, scratch)
            ledger_path = ledger or fetched
        else:
            ledger_path = ledger
        return await restore_backup(file, settings.database_url, key, ledger=ledger_path)

    try:
        with tempfile.TemporaryDirectory(prefix="inviaro-restore-") as scratch:
            report = asyncio.run(run(Path(scratch)))
    except (BackupError, BadBackup, S3Error, ValueError) as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 1
    rows = sum(report.counts.values())
    print(f"Restored the backup of {report.created_at}: {len(report.counts)} tables, {rows} rows.")
    print("Row counts and the migration head match the backup.")
    if not report.at_code_head:
        print("The schema is older than this version of the hub: run inviaro migrate.")
    print(f"Re-applied {report.erasures_reapplied} erasures from the erasure ledger.")
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    from web.loadtest import main as loadtest_main

    return loadtest_main(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inviaro", description="Inviaro hub: real-time messaging.")
    p.add_argument("--log-level", default="info", help="debug, info, warning or error")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the web app and the real-time hub (uvicorn)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    s.add_argument("--port", type=int, default=None, help="port (default: $PORT or 8000)")
    s.add_argument(
        "--access-log",
        action="store_true",
        help="log a line per HTTP request at info level (off: it costs CPU on every request)",
    )
    s.set_defaults(func=cmd_serve)

    w = sub.add_parser("worker", help="send queued replies, apply retention, run scheduled jobs")
    w.set_defaults(func=cmd_worker)

    m = sub.add_parser("migrate", help="create or upgrade the database schema")
    m.set_defaults(func=cmd_migrate)

    c = sub.add_parser("create-operator", help="create a workspace and its owner")
    c.add_argument("--workspace", required=True)
    c.add_argument("--name", required=True)
    c.add_argument("--email", required=True)
    c.add_argument("--password", help="prompted for when omitted")
    c.set_defaults(func=cmd_create_operator)

    from web.cli_links import add_parsers as add_link_parsers

    add_link_parsers(sub)

    rw = sub.add_parser("restore-workspace", help="undo a workspace deletion (within 90 days)")
    rw.add_argument("workspace_id")
    rw.set_defaults(func=cmd_restore_workspace)

    r = sub.add_parser("purge", help="apply retention once: delete what is past its time")
    r.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    r.add_argument("--as-of", help="purge as if it were this RFC 3339 time")
    r.set_defaults(func=cmd_purge)

    lh = sub.add_parser(
        "legal-hold", help="keep audit and security logs of an incident past their retention"
    )
    lh_sub = lh.add_subparsers(dest="action", required=True)
    place = lh_sub.add_parser("place", help="hold the logs of a time range; prints the hold id")
    place.add_argument("--from", dest="start", required=True, help="RFC 3339 start (inclusive)")
    place.add_argument("--to", dest="end", required=True, help="RFC 3339 end (exclusive)")
    place.add_argument("--reason", required=True, help="why: the incident under investigation")
    lh_list = lh_sub.add_parser("list", help="list holds, lifted ones too")
    lift = lh_sub.add_parser("lift", help="lift a hold: its entries go at the next purge")
    lift.add_argument("hold_id")
    for each in (place, lh_list, lift):
        each.add_argument(
            "--workspace", default=None, help="one workspace's logs (default: every workspace)"
        )
    lh.set_defaults(func=cmd_legal_hold)

    b = sub.add_parser("backup", help="write one encrypted backup; prints its path last")
    b.add_argument("--to", help="a directory or s3://bucket/prefix (default: $INVIARO_BACKUP_DIR)")
    b.set_defaults(func=cmd_backup)

    rs = sub.add_parser("restore", help="restore a backup into the empty database of DATABASE_URL")
    rs.add_argument("file", help="a backup file (or s3://…) written by inviaro backup")
    rs.add_argument(
        "--ledger", help="the erasure ledger to re-apply (default: the one beside the file)"
    )
    rs.set_defaults(func=cmd_restore)

    from web.billing_cli import add_parser as add_billing

    add_billing(sub)

    lt = sub.add_parser("loadtest", help="open many sockets against a hub and measure latency")
    from web.loadtest import add_arguments

    add_arguments(lt)
    lt.set_defaults(func=cmd_loadtest)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _logging(args.log_level)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
