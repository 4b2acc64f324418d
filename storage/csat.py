"""Customer satisfaction (CSAT): a survey sent when an operator resolves a conversation,
the contact's 1-5 answer, and the report per operator and team.

A survey is a row naming the conversation, the operator and team it rates (as they were at
resolution) and its message; the answer fills ``rating``. Only the conversation's newest
survey can be answered, within ``ANSWER_WINDOW`` of being sent (a "3" written weeks later
is a message, not a rating). Rows go with their conversation (erasure, retention).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.ids import new_id
from hub.model import rfc3339, utcnow
from storage import models as m
from storage.models import table_of

T_CSAT = table_of(m.CsatRating)
T_OP = table_of(m.Operator)
T_TEAM = table_of(m.Team)
ANSWER_WINDOW = timedelta(hours=24)
OPTION_PREFIX = "csat:"
_DIGIT = re.compile(r"^\s*([1-5])\s*[.!]?\s*$")


def rating_in(text: str, option: str | None) -> int | None:
    """The rating a contact's message gives: a tapped ``csat:N`` option, or a message
    that is nothing but a digit from 1 to 5."""
    if option is not None:
        value = option.removeprefix(OPTION_PREFIX)
        if option.startswith(OPTION_PREFIX) and len(value) == 1 and value in "12345":
            return int(value)
        return None
    found = _DIGIT.match(text)
    return int(found.group(1)) if found else None


async def record_request(
    conn: AsyncConnection,
    workspace_id: str,
    conversation_id: str,
    operator_id: str | None,
    team_id: str | None,
    message_id: str,
) -> str:
    row_id = new_id("cs_")
    await conn.execute(
        T_CSAT.insert().values(
            id=row_id,
            workspace_id=workspace_id,
            conversation_id=conversation_id,
            operator_id=operator_id,
            team_id=team_id,
            message_id=message_id,
            requested_at=utcnow(),
        )
    )
    return row_id


async def answer(
    conn: AsyncConnection, conversation_id: str, rating: int, now: datetime | None = None
) -> bool:
    """Record ``rating`` on the conversation's newest survey, if it is still open: sent
    within ``ANSWER_WINDOW`` and not answered yet. Returns whether it was recorded."""
    now = now or utcnow()
    newest = (
        await conn.execute(
            select(T_CSAT.c.id, T_CSAT.c.rating, T_CSAT.c.requested_at)
            .where(T_CSAT.c.conversation_id == conversation_id)
            .order_by(T_CSAT.c.requested_at.desc(), T_CSAT.c.id.desc())
            .limit(1)
        )
    ).first()
    if newest is None or newest.rating is not None:
        return False
    requested = newest.requested_at
    if requested.tzinfo is None:  # SQLite hands times back naive (they are UTC)
        requested = requested.replace(tzinfo=now.tzinfo)
    if now - requested > ANSWER_WINDOW:
        return False
    done = await conn.execute(
        update(T_CSAT)
        .where(T_CSAT.c.id == newest.id, T_CSAT.c.rating.is_(None))
        .values(rating=rating, rated_at=now)
    )
    return bool(done.rowcount)


async def pending_for(conn: AsyncConnection, conversation_id: str) -> bool:
    """Whether the conversation's newest survey still waits for an answer."""
    newest = (
        await conn.execute(
            select(T_CSAT.c.rating)
            .where(T_CSAT.c.conversation_id == conversation_id)
            .order_by(T_CSAT.c.requested_at.desc(), T_CSAT.c.id.desc())
            .limit(1)
        )
    ).first()
    return newest is not None and newest.rating is None


def _summary(requested: int, ratings: list[int]) -> dict[str, Any]:
    return {
        "requested": requested,
        "responses": len(ratings),
        "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "distribution": {str(n): ratings.count(n) for n in range(1, 6)},
    }


async def report(conn: AsyncConnection, workspace_id: str, since: datetime) -> dict[str, Any]:
    """Surveys sent since ``since``: overall, per operator and per team (rated ones first)."""
    rows = list(
        await conn.execute(
            select(T_CSAT.c.operator_id, T_CSAT.c.team_id, T_CSAT.c.rating).where(
                T_CSAT.c.workspace_id == workspace_id, T_CSAT.c.requested_at >= since
            )
        )
    )
    names = {
        r.id: r.name
        for r in await conn.execute(
            select(T_OP.c.id, T_OP.c.name).where(T_OP.c.workspace_id == workspace_id)
        )
    }
    teams = {
        r.id: r.name
        for r in await conn.execute(
            select(T_TEAM.c.id, T_TEAM.c.name).where(T_TEAM.c.workspace_id == workspace_id)
        )
    }

    def grouped(key: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        groups: dict[str, list[Any]] = {}
        for r in rows:
            if getattr(r, key) is not None:
                groups.setdefault(getattr(r, key), []).append(r)
        out = [
            {
                "id": group_id,
                "name": labels.get(group_id),
                **_summary(len(items), [i.rating for i in items if i.rating is not None]),
            }
            for group_id, items in groups.items()
        ]
        return sorted(out, key=lambda g: (-g["responses"], g["name"] or ""))

    return {
        "since": rfc3339(since),
        "overall": _summary(len(rows), [r.rating for r in rows if r.rating is not None]),
        "operators": grouped("operator_id", names),
        "teams": grouped("team_id", teams),
    }


async def count(conn: AsyncConnection, workspace_id: str) -> int:
    """How many surveys the workspace sent (tests and metrics)."""
    total = await conn.scalar(
        select(func.count()).select_from(T_CSAT).where(T_CSAT.c.workspace_id == workspace_id)
    )
    return int(total or 0)
