"""Reading the audit log: ``GET /api/audit`` (pages, newest first) and ``GET
/api/audit.csv`` (a download), both filtered by ``action`` and ``actor_id``, with the
names of the operators, contacts, channels… the entries point at (web/audit_names.py).
Managers only. Downloading the CSV is itself audited (``audit_exported``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import Select, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import rfc3339, utcnow
from storage.models import AuditEntry
from web import audit
from web.api.account import services
from web.audit_names import actor_name, names_for, target_name
from web.auth.context import MANAGERS, Principal, require
from web.contracts import audit_log as audit_log_contract
from web.contracts import workspace as workspace_contract
from web.operation import declare

MAX_CSV_ROWS = 50_000


def _filtered(query: dict[str, Any], principal: Principal) -> Select[Any]:
    stmt = select(AuditEntry).where(AuditEntry.workspace_id == principal.workspace_id)
    if "action" in query:
        stmt = stmt.where(AuditEntry.action == query["action"])
    if "actor_id" in query:
        stmt = stmt.where(AuditEntry.actor_id == query["actor_id"])
    return stmt


def _entry(entry: AuditEntry, names: dict[tuple[str, str], str]) -> dict[str, Any]:
    out = audit.entry_json(entry)
    out["actor"]["name"] = actor_name(entry, names)
    out["target"]["name"] = target_name(entry, names)
    return out


@declare(workspace_contract.LIST_AUDIT)
async def list_audit(request: Request) -> Response:
    """Newest first, ``limit`` (1-200, default 50) at a time; ``cursor`` is the opaque
    ``next_cursor`` of the previous page."""
    principal = await require(request, roles=MANAGERS)
    query = workspace_contract.LIST_AUDIT.query(request)
    limit: int = query["limit"]
    stmt = _filtered(query, principal)
    if "cursor" in query:
        stmt = stmt.where(AuditEntry.id < query["cursor"])
    async with services(request).db() as db:
        rows = list(
            (await db.execute(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1))).scalars()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        names = await names_for(db, principal.workspace_id, rows)
    return JSONResponse(
        {"items": [_entry(r, names) for r in rows], "next_cursor": rows[-1].id if more else None}
    )


def _cell(value: str | None) -> str:
    """A spreadsheet must not run a name as a formula (CSV injection)."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@declare(audit_log_contract.EXPORT_AUDIT)
async def export_audit(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    query = audit_log_contract.EXPORT_AUDIT.query(request)
    stmt = _filtered(query, principal).order_by(AuditEntry.id.desc()).limit(MAX_CSV_ROWS)
    async with services(request).db() as db:
        rows: list[AuditEntry] = list((await db.execute(stmt)).scalars())
        names = await names_for(db, principal.workspace_id, rows)
        await audit.by_principal(
            db, request, principal, "audit_exported", "workspace", principal.workspace_id
        )
        await db.commit()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "at",
            "action",
            "actor_kind",
            "actor_id",
            "actor_name",
            "target_kind",
            "target_id",
            "target_name",
            "ip",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                rfc3339(r.at),
                r.action,
                r.actor_kind,
                r.actor_id or "",
                _cell(actor_name(r, names)),
                r.target_kind or "",
                r.target_id or "",
                _cell(target_name(r, names)),
                r.ip or "",
            ]
        )
    day = utcnow().strftime("%Y-%m-%d")
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )


routes = [
    Route("/api/audit", list_audit, methods=["GET"]),
    Route("/api/audit.csv", export_audit, methods=["GET"]),
]
