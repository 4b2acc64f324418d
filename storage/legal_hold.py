"""Legal holds: audit and security logs of an incident outlive retention until lifted.

Logs are kept 90 days (``INVIARO_AUDIT_RETENTION_DAYS``), "longer for incidents under
investigation". A hold names a time range and a reason; while it is on, every audit entry
whose ``at`` falls in ``[starts_at, ends_at)`` is kept by :mod:`storage.retention` (the
workspace's own entries for a workspace's hold, every entry for the server admin's hold
placed from the command line). Lifting a hold lets its entries go at the next purge; the
hold itself stays, as the record of the investigation. Placing and lifting are audited by
the callers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.ids import new_id
from hub.model import as_utc, rfc3339, utcnow
from hub.store import NotFound
from storage import models as m
from storage.models import table_of

T_HOLD = table_of(m.LegalHold)
MAX_REASON = 500


class InvalidHold(ValueError):
    """A hold that cannot be placed: the sentence says why."""


def hold_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "from": rfc3339(row.starts_at),
        "to": rfc3339(row.ends_at),
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
        "lifted_at": rfc3339(row.lifted_at) if row.lifted_at else None,
        "lifted_by": row.lifted_by,
    }


def parse_time(value: Any, name: str) -> datetime:
    """An RFC 3339 time with a zone, as UTC; :class:`InvalidHold` naming ``name`` else."""
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidHold(f"'{name}' must be an RFC 3339 time such as 2026-12-01T00:00:00Z.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidHold(
            f"'{name}' must be an RFC 3339 time such as 2026-12-01T00:00:00Z."
        ) from None
    if moment.tzinfo is None:
        raise InvalidHold(f"'{name}' needs a time zone (Z or +01:00, say).")
    return as_utc(moment)


def validate(starts: Any, ends: Any, reason: Any) -> tuple[datetime, datetime, str]:
    start, end = parse_time(starts, "from"), parse_time(ends, "to")
    if end <= start:
        raise InvalidHold("'to' must be later than 'from'.")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidHold(f"'reason' must be 1 to {MAX_REASON} characters: say why.")
    return start, end, reason.strip()


async def place(
    conn: AsyncConnection,
    workspace_id: str | None,
    starts: Any,
    ends: Any,
    reason: Any,
    created_by: str | None,
) -> dict[str, Any]:
    """Place a hold (``workspace_id`` None: over every workspace) and return it."""
    start, end, why = validate(starts, ends, reason)
    hold_id = new_id("lh_")
    await conn.execute(
        T_HOLD.insert().values(
            id=hold_id,
            workspace_id=workspace_id,
            starts_at=start,
            ends_at=end,
            reason=why,
            created_by=created_by,
            created_at=utcnow(),
        )
    )
    return hold_json((await conn.execute(select(T_HOLD).where(T_HOLD.c.id == hold_id))).one())


def _scope(workspace_id: str | None) -> ColumnElement[bool]:
    if workspace_id is None:
        return T_HOLD.c.workspace_id.is_(None)
    return T_HOLD.c.workspace_id == workspace_id


async def list_holds(conn: AsyncConnection, workspace_id: str | None) -> list[dict[str, Any]]:
    """The holds of one workspace (or the server admin's), newest first, lifted ones too."""
    rows = await conn.execute(
        select(T_HOLD)
        .where(_scope(workspace_id))
        .order_by(T_HOLD.c.created_at.desc(), T_HOLD.c.id.desc())
    )
    return [hold_json(r) for r in rows]


async def lift(
    conn: AsyncConnection, workspace_id: str | None, hold_id: str, lifted_by: str | None
) -> dict[str, Any]:
    """Lift an active hold; NotFound for one of another scope, unknown or already lifted."""
    result = await conn.execute(
        update(T_HOLD)
        .where(T_HOLD.c.id == hold_id, _scope(workspace_id), T_HOLD.c.lifted_at.is_(None))
        .values(lifted_at=utcnow(), lifted_by=lifted_by)
    )
    if result.rowcount != 1:
        raise NotFound("no such active legal hold")
    return hold_json((await conn.execute(select(T_HOLD).where(T_HOLD.c.id == hold_id))).one())


def held(table: Table) -> ColumnElement[bool]:
    """True for a row of ``table`` (with ``at`` and ``workspace_id``) under an active hold:
    retention adds ``~held(table)`` to what it deletes."""
    return exists().where(
        T_HOLD.c.lifted_at.is_(None),
        table.c.at >= T_HOLD.c.starts_at,
        table.c.at < T_HOLD.c.ends_at,
        or_(T_HOLD.c.workspace_id.is_(None), T_HOLD.c.workspace_id == table.c.workspace_id),
    )


def workspace_has_held_entries(workspace_id_column: Any, audit: Table) -> ColumnElement[bool]:
    """True for a workspace some of whose audit entries are held: its final purge waits."""
    return exists().where(and_(audit.c.workspace_id == workspace_id_column, held(audit)))
