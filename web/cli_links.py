"""``inviaro invite`` and ``inviaro reset-link``: account links printed for the server's
admin to hand over (no mail is sent), for servers without SMTP or a locked-out owner."""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Operator, Workspace
from web import audit, config
from web.auth import links
from web.auth.accounts import normalize_email


async def _workspace_id(db: AsyncSession, given: str | None) -> str:
    if given:
        workspace = await db.get(Workspace, given)
        if workspace is None or workspace.deleted_at is not None:
            raise ValueError(f"There is no workspace {given}.")
        return workspace.id
    live = Workspace.deleted_at.is_(None)
    if await db.scalar(select(func.count()).select_from(Workspace).where(live)) != 1:
        raise ValueError("This server has several workspaces: name one with --workspace.")
    return str(await db.scalar(select(Workspace.id).where(live)))


async def _invite(settings: config.Settings, args: argparse.Namespace) -> str:
    from storage.db import make_engine, sessionmaker

    email = normalize_email(args.email)
    if email is None:
        raise ValueError(f"{args.email!r} is not an email address.")
    engine = make_engine(settings.database_url)
    try:
        async with sessionmaker(engine)() as db, db.begin():
            if await db.scalar(select(Operator.id).where(Operator.email == email)):
                raise ValueError("An operator with this email already exists.")
            workspace_id = await _workspace_id(db, args.workspace)
            link, url = await links.issue(
                db,
                settings,
                "invite",
                workspace_id=workspace_id,
                created_by=None,
                email=email,
                role=args.role,
            )
            await audit.record(
                db,
                workspace_id=workspace_id,
                actor_kind="system",
                actor_id=None,
                action="invite_created",
                target_kind="invite",
                target_id=link.id,
            )
            return url
    finally:
        await engine.dispose()


async def _reset_link(settings: config.Settings, args: argparse.Namespace) -> str:
    from storage.db import make_engine, sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with sessionmaker(engine)() as db, db.begin():
            operator = await db.scalar(
                select(Operator).where(Operator.email == (normalize_email(args.email) or ""))
            )
            if operator is None or operator.deleted_at is not None:
                raise ValueError("No operator has this email.")
            if operator.disabled:
                raise ValueError("This operator is disabled; enable them first.")
            _, url = await links.issue(
                db,
                settings,
                "reset",
                workspace_id=operator.workspace_id,
                created_by=None,
                operator_id=operator.id,
            )
            await audit.record(
                db,
                workspace_id=operator.workspace_id,
                actor_kind="system",
                actor_id=None,
                action="password_reset_link_created",
                target_kind="operator",
                target_id=operator.id,
            )
            return url
    finally:
        await engine.dispose()


def cmd_invite(args: argparse.Namespace) -> int:
    return _print(_invite, args)


def cmd_reset_link(args: argparse.Namespace) -> int:
    return _print(_reset_link, args)


def _print(make: object, args: argparse.Namespace) -> int:
    try:
        settings = config.load()
        url = asyncio.run(make(settings, args))  # type: ignore[operator]
    except (ValueError, config.ConfigError) as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 2
    print(url)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    i = sub.add_parser("invite", help="print a single-use invitation link (nothing is mailed)")
    i.add_argument("email")
    i.add_argument("--role", choices=("owner", "admin", "agent"), default="agent")
    i.add_argument("--workspace", help="workspace id (needed when the server has several)")
    i.set_defaults(func=cmd_invite)
    r = sub.add_parser("reset-link", help="print a single-use password-reset link for an operator")
    r.add_argument("email")
    r.set_defaults(func=cmd_reset_link)
