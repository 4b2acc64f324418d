"""Leasing due rows to one worker: the outbox, flow timers, flow triggers and flow
actions left behind are all taken this way.

On Postgres the rows are picked with ``FOR UPDATE SKIP LOCKED`` and leased in the same
transaction, so two workers polling at once take different rows and neither waits for
the other; SQLite runs one writing transaction at a time, which gives the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


async def claim(
    conn: AsyncConnection,
    key: Column[Any],
    *,
    due: ColumnElement[bool],
    order_by: Sequence[ColumnElement[Any]],
    limit: int,
    lease: dict[str, Any],
    returning: Sequence[Column[Any]] = (),
) -> list[Row[Any]]:
    """Lease up to ``limit`` rows of ``key``'s table that are ``due``, first by
    ``order_by``, to the caller: their columns are set to ``lease``. Answers each row's
    ``key`` and ``returning`` columns as they are after the lease, in that order. Runs in
    the caller's transaction (which may do more with the rows before it commits)."""
    query = select(key).where(due).order_by(*order_by).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    keys = list(await conn.scalars(query))
    if not keys:
        return []
    rows = await conn.execute(
        update(key.table).where(key.in_(keys)).values(lease).returning(key, *returning)
    )
    place = {k: n for n, k in enumerate(keys)}
    return sorted(rows, key=lambda row: place[row[0]])
