"""Contact messages whose flow event is not handled yet (``flow_triggers``).

The writer adds a row for a contact message in that message's own transaction
(:mod:`storage.batch_plan`, :func:`add`) when it could move a flow, by the runner's own
first question (:func:`storage.flow_runs.with_something_to_run`) asked in the same
statement: a conversation with a live run, or a workspace with a published flow a message
can start. Most messages can move none, and add nothing. The runner deletes the row once
it has decided (:func:`done`). A process killed between the acknowledgement and that
decision leaves the row behind; the worker takes it once its lease ran out
(:func:`claim`), and the run is still advanced once: the runner consumes each message's
event under a unique key (:func:`storage.flow_runs.take_event`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Insert,
    String,
    bindparam,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.model import as_utc
from storage import claims
from storage import models as m
from storage.flow_runs import LIVE

# The triggers a contact's message can fire (no_reply is the worker's).
MESSAGE_TRIGGERS = ("conversation_started", "message", "outside_hours")

T_TRIGGER = m.table_of(m.FlowTrigger)
T_MSG = m.table_of(m.Message)
T_RUN = m.table_of(m.FlowRun)
T_FLOW = m.table_of(m.Flow)
_COLUMNS = ["message_id", "workspace_id", "attempts", "leased_at"]


def row(message_id: str, workspace_id: str, conversation_id: str, now: datetime) -> dict[str, Any]:
    """What the writer knows of a new contact message for :func:`add`: its row, leased to
    the process that wrote it from ``now``, if the message could move a flow."""
    return {
        "message_id": message_id,
        "workspace_id": workspace_id,
        "conversation_id": conversation_id,
        "leased_at": now,
    }


def _could_move(
    workspace_id: ColumnElement[Any], conversation_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    # Lists of single values, not one expanding list: SQLite runs this once per row
    # (executemany), which an expanding parameter cannot be part of.
    live = exists().where(
        T_RUN.c.conversation_id == conversation_id,
        T_RUN.c.status.in_([literal(s) for s in LIVE]),
    )
    published = exists().where(
        T_FLOW.c.workspace_id == workspace_id,
        T_FLOW.c.status == "published",
        T_FLOW.c.trigger.in_([literal(t) for t in MESSAGE_TRIGGERS]),
    )
    return or_(live, published)


def could_move_sql(workspace_id: str, conversation_id: str) -> str:
    """:func:`_could_move` as Postgres SQL over two column expressions, for the writer's
    one statement per batch (:mod:`storage.writer_postgres`)."""
    clause = _could_move(literal_column(workspace_id), literal_column(conversation_id))
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _add_one() -> Insert:
    """One message's row (SQLite, executed once per row)."""
    workspace_id = bindparam("workspace_id", type_=String())
    chosen = select(
        bindparam("message_id", type_=String()),
        workspace_id,
        literal(0),
        bindparam("leased_at", type_=DateTime(timezone=True)),
    ).where(_could_move(workspace_id, bindparam("conversation_id", type_=String())))
    return T_TRIGGER.insert().from_select(_COLUMNS, chosen)


_ADD_ONE = _add_one()


async def add(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
    """The rows of :func:`row` whose message could move a flow, in the caller's
    transaction (the SQLite writer's; on Postgres they are part of the writer's one
    statement per batch). Answers those messages."""
    if not rows:
        return set()
    await conn.execute(_ADD_ONE, rows)
    ids = [r["message_id"] for r in rows]
    added = await conn.scalars(
        select(T_TRIGGER.c.message_id).where(T_TRIGGER.c.message_id.in_(ids))
    )
    return set(added)


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
        rows = await claims.claim(
            conn,
            T_TRIGGER.c.message_id,
            due=T_TRIGGER.c.leased_at <= now - lease,
            order_by=(T_TRIGGER.c.leased_at,),
            limit=limit,
            lease={"leased_at": now, "attempts": T_TRIGGER.c.attempts + 1},
            returning=(T_TRIGGER.c.attempts,),
        )
    return [Claimed(r.message_id, r.attempts) for r in rows]


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
