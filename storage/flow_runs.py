"""Flow runs as rows: a run's state, its steps, the events it consumed, its timers.

Every change a run's event makes is written in one transaction with the event's key
(:class:`storage.models.FlowEvent`): a second process, or a redelivery, that brings the
same event finds the key taken and changes nothing. What it leaves to do outside the
database is kept in that transaction too (:class:`storage.models.FlowPendingActions`)
until it is done. Timers, and that work when left behind, are leased like the outbox
(:mod:`storage.claims`) so two workers never take one twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from hub.model import as_utc, rfc3339, utcnow
from storage import claims
from storage import models as m
from storage.db import autocommit

LIVE = ("running", "waiting")
T_PENDING = m.table_of(m.FlowPendingActions)


class EventTaken(Exception):
    """Another process (or an earlier delivery) already consumed this event."""


async def waiting_run(db: AsyncSession, conversation_id: str) -> m.FlowRun | None:
    return await db.scalar(
        select(m.FlowRun)
        .where(m.FlowRun.conversation_id == conversation_id, m.FlowRun.status.in_(LIVE))
        .order_by(m.FlowRun.started_at.desc())
        .limit(1)
    )


async def with_something_to_run(
    conn: AsyncConnection, messages: list[tuple[str, str]], triggers: tuple[str, ...]
) -> set[str]:
    """Of ``messages`` (workspace id, conversation id), the conversations a contact's
    message could move a flow in: one with a live run, or of a workspace with a published
    flow on one of ``triggers``. One indexed query for a whole burst, so that the common
    answer, none, costs one round trip however many messages arrived together."""
    if not messages:
        return set()
    conversations = sorted({c for _, c in messages})
    workspaces = sorted({w for w, _ in messages})
    live = select(m.FlowRun.conversation_id.label("id"), literal("c").label("what")).where(
        m.FlowRun.conversation_id.in_(conversations), m.FlowRun.status.in_(LIVE)
    )
    published = select(m.Flow.workspace_id.label("id"), literal("w").label("what")).where(
        m.Flow.workspace_id.in_(workspaces),
        m.Flow.status == "published",
        m.Flow.trigger.in_(triggers),
    )
    rows = (await conn.execute(union_all(live, published))).all()
    running = {r.id for r in rows if r.what == "c"}
    flowing = {r.id for r in rows if r.what == "w"}
    return {c for w, c in messages if c in running or w in flowing}


async def event_taken(db: AsyncSession, key: str) -> bool:
    return await db.get(m.FlowEvent, key) is not None


async def lock_run(db: AsyncSession, run_id: str) -> m.FlowRun | None:
    """The run, locked for this transaction on Postgres (SQLite writes one at a time)."""
    query = select(m.FlowRun).where(m.FlowRun.id == run_id)
    bind = db.get_bind()
    if bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return await db.scalar(query.execution_options(populate_existing=True))


async def take_event(db: AsyncSession, key: str, run_id: str) -> None:
    """Record the event as consumed by ``run_id``; :class:`EventTaken` if it already was."""
    try:
        async with db.begin_nested():
            db.add(m.FlowEvent(key=key, run_id=run_id))
            await db.flush()
    except IntegrityError:
        raise EventTaken(key) from None


def add_steps(db: AsyncSession, run_id: str, lines: list[tuple[str, str]]) -> None:
    now = utcnow()  # a microsecond apart: one advance's steps keep their order
    db.add_all(
        m.FlowRunStep(
            run_id=run_id, step=step[:64], outcome=outcome[:500], at=now + timedelta(microseconds=i)
        )
        for i, (step, outcome) in enumerate(lines)
    )


def add_timer(db: AsyncSession, run_id: str, epoch: int, due_at: datetime) -> None:
    db.add(m.FlowTimer(run_id=run_id, epoch=epoch, due_at=due_at))


async def drop_timers(db: AsyncSession, run_id: str) -> None:
    await db.execute(delete(m.FlowTimer).where(m.FlowTimer.run_id == run_id))


async def stop_runs(db: AsyncSession, conversation_id: str, reason: str) -> list[m.FlowRun]:
    """End the conversation's live runs (an operator replied or took it over)."""
    runs = list(
        await db.scalars(
            select(m.FlowRun).where(
                m.FlowRun.conversation_id == conversation_id, m.FlowRun.status.in_(LIVE)
            )
        )
    )
    for run in runs:
        run.status = "done"
        run.state = {**run.state, "status": "done"}
        run.updated_at = utcnow()
        add_steps(db, run.id, [(str(run.state.get("step", "")), f"stopped: {reason}")])
        await drop_timers(db, run.id)
    return runs


async def started_since(
    db: AsyncSession, conversation_id: str, flow_id: str, since: datetime
) -> bool:
    found = await db.scalar(
        select(m.FlowRun.id)
        .where(
            m.FlowRun.conversation_id == conversation_id,
            m.FlowRun.flow_id == flow_id,
            m.FlowRun.started_at >= since,
        )
        .limit(1)
    )
    return found is not None


async def unanswered(
    db: AsyncSession, workspace_id: str, before: datetime, since: datetime, limit: int = 100
) -> list[tuple[m.Conversation, m.Message]]:
    """Open conversations whose last message is the contact's, written in
    ``[since, before)``: nobody answered it (and nobody holds the conversation)."""
    rows = await db.execute(
        select(m.Conversation, m.Message)
        .join(
            m.Message,
            (m.Message.conversation_id == m.Conversation.id)
            & (m.Message.seq == m.Conversation.last_seq),
        )
        .where(
            m.Conversation.workspace_id == workspace_id,
            m.Conversation.status != "resolved",
            m.Conversation.assignee_id.is_(None),
            m.Message.direction == "in",
            m.Message.author_kind == "contact",
            m.Message.created_at < before,
            m.Message.created_at >= since,
        )
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


@dataclass(frozen=True, slots=True)
class DueTimer:
    id: str
    run_id: str
    epoch: int


async def claim_timers(
    engine: AsyncEngine, *, limit: int, lease: timedelta, now: datetime | None = None
) -> list[DueTimer]:
    """Lease up to ``limit`` due timers for ``lease``; the caller fires and deletes them."""
    now = now or utcnow()
    table = m.table_of(m.FlowTimer)
    async with engine.begin() as conn:
        rows = await claims.claim(
            conn,
            table.c.id,
            due=(table.c.due_at <= now)
            & (table.c.locked_until.is_(None) | (table.c.locked_until <= now)),
            order_by=(table.c.due_at,),
            limit=limit,
            lease={"locked_until": now + lease},
            returning=(table.c.run_id, table.c.epoch),
        )
    return [DueTimer(r.id, r.run_id, r.epoch) for r in rows]


async def delete_timer(db: AsyncSession, timer_id: str) -> None:
    await db.execute(delete(m.FlowTimer).where(m.FlowTimer.id == timer_id))


def add_pending(db: AsyncSession, key: str, run_id: str, actions: dict[str, Any]) -> None:
    """Keep what the event ``key`` leaves to do outside the database (``actions``, JSON)
    until :func:`carried`: in the transaction that consumes the event."""
    db.add(m.FlowPendingActions(key=key, run_id=run_id, actions=actions, leased_at=utcnow()))


async def carried(engine: AsyncEngine, key: str) -> None:
    """The event's outside work is done (or given up): one statement, no transaction
    around it on Postgres."""
    async with autocommit(engine) as conn:
        await conn.execute(delete(T_PENDING).where(T_PENDING.c.key == key))


@dataclass(frozen=True, slots=True)
class Pending:
    key: str
    run_id: str
    flow_id: str
    conversation_id: str
    actions: dict[str, Any]
    attempts: int  # counting this one


async def claim_pending(
    engine: AsyncEngine, *, limit: int, lease: timedelta, now: datetime
) -> list[Pending]:
    """Lease up to ``limit`` events' outside work left past ``lease`` (the process that
    consumed them died, or failed, before carrying it out), oldest first."""
    now = as_utc(now)
    runs = m.table_of(m.FlowRun)
    async with engine.begin() as conn:
        rows = await claims.claim(
            conn,
            T_PENDING.c.key,
            due=T_PENDING.c.leased_at <= now - lease,
            order_by=(T_PENDING.c.leased_at,),
            limit=limit,
            lease={"leased_at": now, "attempts": T_PENDING.c.attempts + 1},
            returning=(T_PENDING.c.run_id, T_PENDING.c.actions, T_PENDING.c.attempts),
        )
        if not rows:
            return []
        of_run = {
            r.id: r
            for r in await conn.execute(
                select(runs.c.id, runs.c.flow_id, runs.c.conversation_id).where(
                    runs.c.id.in_({r.run_id for r in rows})
                )
            )
        }
    return [
        Pending(
            r.key,
            r.run_id,
            of_run[r.run_id].flow_id,
            of_run[r.run_id].conversation_id,
            r.actions,
            r.attempts,
        )
        for r in rows
    ]


async def runs_of(db: AsyncSession, conversation_id: str) -> list[dict[str, Any]]:
    """The contract's ``flow-runs`` items, newest first, each with its steps in order."""
    runs = list(
        await db.scalars(
            select(m.FlowRun)
            .where(m.FlowRun.conversation_id == conversation_id)
            .order_by(m.FlowRun.started_at.desc(), m.FlowRun.id.desc())
            .limit(100)
        )
    )
    steps: dict[str, list[dict[str, Any]]] = {run.id: [] for run in runs}
    if runs:
        rows = await db.scalars(
            select(m.FlowRunStep)
            .where(m.FlowRunStep.run_id.in_(list(steps)))
            .order_by(m.FlowRunStep.at, m.FlowRunStep.id)
        )
        for row in rows:
            steps[row.run_id].append(
                {"step": row.step, "at": rfc3339(row.at), "outcome": row.outcome}
            )
    return [
        {
            "id": run.id,
            "flow_id": run.flow_id,
            "version": run.version,
            "status": run.status,
            "error": run.error,
            "started_at": rfc3339(run.started_at),
            "steps": steps[run.id],
        }
        for run in runs
    ]
