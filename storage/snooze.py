"""Snoozed conversations wake up: the worker reopens every one whose time has come."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import models as m
from storage.models import table_of

T_CONV = table_of(m.Conversation)


async def wake_due(engine: AsyncEngine, now: datetime) -> list[tuple[str, str]]:
    """Reopen the snoozed conversations due at ``now``: ``open``, no snooze, updated now.
    Returns their ``(workspace_id, conversation_id)``, the earliest due first. Safe with
    several workers: a conversation is woken by whichever update reaches it first, once."""
    async with engine.begin() as conn:
        due = [
            r.id
            for r in await conn.execute(
                select(T_CONV.c.id)
                .where(T_CONV.c.snoozed_until <= now)
                .order_by(T_CONV.c.snoozed_until, T_CONV.c.id)
                .limit(500)
            )
        ]
        if not due:
            return []
        rows = await conn.execute(
            update(T_CONV)
            .where(T_CONV.c.id.in_(due), T_CONV.c.snoozed_until <= now)
            .values(status="open", snoozed_until=None, updated_at=now)
            .returning(T_CONV.c.workspace_id, T_CONV.c.id)
        )
        woken = {r.id: r.workspace_id for r in rows}
        return [(woken[c], c) for c in due if c in woken]
