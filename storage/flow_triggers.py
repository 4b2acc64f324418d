"""Contact messages whose flow event is not handled yet (``flow_triggers``).

The writer adds a row for every contact message it stores, in that message's own
transaction (:mod:`storage.batch_plan`): which of them move a flow takes data the writer
does not read, so the runner decides, and deletes the row once it has (:func:`done`). A
process killed between the acknowledgement and that decision leaves the row behind; the
worker takes it once its lease ran out (:func:`claim`), and the run is still advanced
once: the runner consumes each message's event under a unique key
(:func:`storage.flow_runs.take_event`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.model import as_utc
from storage import models as m

T_TRIGGER = m.table_of(m.FlowTrigger)
T_MSG = m.table_of(m.Message)


def row(message_id: str, workspace_id: str, now: datetime) -> dict[str, Any]:
    """The row the writer adds for a new contact message, leased to the process that
    wrote it from ``now``."""
    return {"message_id": message_id, "workspace_id": workspace_id, "attempts": 0, "leased_at": now}


async def done(conn: AsyncConnection, message_ids: list[str]) -> None:
    """The runner decided about these messages (a run moved, or nothing to move)."""
    if message_ids:
        await conn.execute(delete(T_TRIGGER).where(T_TRIGGER.c.message_id.in_(message_ids)))


@dataclass(frozen=True, slots=True)
class Claimed:
    message_id: str
    attempts: int  # counting this one


async def claim(
    engine: AsyncEngine, *, limit: int, lease: timedelta, now: datetime
) -> list[Claimed]:
    """Lease up to ``limit`` rows whose lease ran out (nobody decided within ``lease`` of
    the last taking) to the caller, oldest first; two workers never take the same row."""
    now = as_utc(now)
    async with engine.begin() as conn:
        query = (
            select(T_TRIGGER.c.message_id, T_TRIGGER.c.attempts)
            .where(T_TRIGGER.c.leased_at <= now - lease)
            .order_by(T_TRIGGER.c.leased_at)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await conn.execute(query)).all()
        if rows:
            await conn.execute(
                update(T_TRIGGER)
                .where(T_TRIGGER.c.message_id.in_([r.message_id for r in rows]))
                .values(leased_at=now, attempts=T_TRIGGER.c.attempts + 1)
            )
    return [Claimed(r.message_id, r.attempts + 1) for r in rows]


async def operator_replies(conn: AsyncConnection, conversation_ids: list[str]) -> dict[str, int]:
    """Each conversation's last operator reply's ``seq`` (private notes are no reply): a
    contact message left behind before it moves no flow any more, as the reply would have
    stopped the run it started."""
    if not conversation_ids:
        return {}
    rows = await conn.execute(
        select(T_MSG.c.conversation_id, func.max(T_MSG.c.seq))
        .where(
            T_MSG.c.conversation_id.in_(conversation_ids),
            T_MSG.c.author_kind == "operator",
            T_MSG.c.private.is_(False),
        )
        .group_by(T_MSG.c.conversation_id)
    )
    return {conversation_id: seq for conversation_id, seq in rows}
