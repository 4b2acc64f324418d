"""``inviaro billing``: the server admin issues invoices and credit notes.

``inviaro billing issue --period 2026-12 [--workspace ID]`` issues the month's invoice to
every workspace with billing details (or the one named) that has none for that month yet,
and prints each number; ``inviaro billing credit-note INVOICE_ID --reason TEXT`` reverses
an invoice. Both are refused (exit 2) while ``INVIARO_BILLING`` is off.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sqlalchemy import and_, exists, select

from hub.store import NotFound
from storage import billing
from storage.db import make_engine
from web import config
from web.api.billing import terms


async def _issue(settings: config.Settings, period: str, workspace: str | None) -> list[str]:
    engine = make_engine(settings.database_url)
    inv, acc, ws = billing.T_INVOICE, billing.T_ACCOUNT, billing.T_WS
    try:
        async with engine.connect() as conn:
            query = select(acc.c.workspace_id).where(
                exists().where(ws.c.id == acc.c.workspace_id, ws.c.deleted_at.is_(None)),
                ~exists().where(
                    and_(
                        inv.c.workspace_id == acc.c.workspace_id,
                        inv.c.period == period,
                        inv.c.kind == billing.INVOICE,
                        ~exists().where(inv.alias("cn").c.corrects_id == inv.c.id),
                    )
                ),
            )
            if workspace is not None:
                query = query.where(acc.c.workspace_id == workspace)
            due = [r.workspace_id for r in await conn.execute(query.order_by(acc.c.workspace_id))]
        lines = []
        for workspace_id in due:
            async with engine.begin() as conn:
                invoice = await billing.issue_invoice(conn, workspace_id, terms(settings), period)
            lines.append(f"{invoice['number']}  {workspace_id}  {invoice['id']}")
        return lines or [f"No invoice due for {period}."]
    finally:
        await engine.dispose()


async def _credit(settings: config.Settings, invoice_id: str, reason: str) -> list[str]:
    engine = make_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            note = await billing.issue_credit_note(conn, invoice_id, reason)
        return [f"{note['number']}  {note['workspace_id']}  {note['id']}"]
    finally:
        await engine.dispose()


def cmd_billing(args: argparse.Namespace) -> int:
    try:
        settings = config.load()
    except config.ConfigError as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 2
    if not settings.billing:
        print("inviaro: billing is off; set INVIARO_BILLING=on to use it.", file=sys.stderr)
        return 2
    try:
        if args.action == "issue":
            lines = asyncio.run(_issue(settings, args.period, args.workspace))
        else:
            lines = asyncio.run(_credit(settings, args.invoice_id, args.reason))
    except billing.InvalidBilling as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 2
    except billing.BillingConflict as exc:
        print(f"inviaro: {exc}", file=sys.stderr)
        return 1
    except NotFound:
        print("inviaro: there is no such invoice.", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def add_parser(sub: Any) -> None:
    bl = sub.add_parser("billing", help="issue invoices and credit notes (INVIARO_BILLING)")
    actions = bl.add_subparsers(dest="action", required=True)
    issue = actions.add_parser("issue", help="issue a month's invoices; prints their numbers")
    issue.add_argument("--period", required=True, help="the month billed, such as 2026-12")
    issue.add_argument("--workspace", default=None, help="one workspace (default: every one)")
    credit = actions.add_parser("credit-note", help="reverse an invoice with a credit note")
    credit.add_argument("invoice_id")
    credit.add_argument("--reason", required=True, help="why it is corrected")
    bl.set_defaults(func=cmd_billing)
