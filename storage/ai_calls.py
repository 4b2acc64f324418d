"""The AI call log and the monthly token usage behind each workspace's budget.

A call's prompt and answer are rows of its conversation: the conversation's retention
removes them and erasing the contact erases them (storage/privacy.py,
storage/retention.py). The usage counter keeps numbers only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.model import rfc3339
from storage import models as m
from storage.dialect import dialect_insert
from storage.models import table_of

T_USAGE = table_of(m.AiUsage)


def month_of(at: datetime) -> str:
    return at.strftime("%Y-%m")


async def tokens_used(db: AsyncSession, workspace_id: str, month: str) -> int:
    used = await db.scalar(
        select(m.AiUsage.tokens).where(
            m.AiUsage.workspace_id == workspace_id, m.AiUsage.month == month
        )
    )
    return int(used or 0)


async def add_tokens(db: AsyncSession, workspace_id: str, month: str, tokens: int) -> None:
    """Count ``tokens`` against the month: one atomic upsert, as calls may run at once."""
    if tokens <= 0:
        return
    conn = await db.connection()
    insert = dialect_insert(conn, T_USAGE).values(
        workspace_id=workspace_id, month=month, tokens=tokens
    )
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=["workspace_id", "month"],
            set_={"tokens": T_USAGE.c.tokens + insert.excluded.tokens},
        )
    )


async def recent_turns(db: AsyncSession, conversation_id: str, limit: int) -> list[tuple[str, str]]:
    """The last ``limit`` messages with text, oldest first, as (author kind, text): never
    attachments, names or ids."""
    rows = (
        await db.execute(
            select(m.Message.author_kind, m.Message.text)
            .where(
                m.Message.conversation_id == conversation_id,
                m.Message.text != "",
                # A flow's system lines are the hub talking to operators, not the conversation.
                m.Message.author_kind != "system",
            )
            .order_by(m.Message.seq.desc())
            .limit(limit)
        )
    ).all()
    return [(r.author_kind, r.text) for r in reversed(rows)]


async def for_conversation(db: AsyncSession, conversation_id: str) -> list[m.AiCall]:
    return list(
        (
            await db.execute(
                select(m.AiCall)
                .where(m.AiCall.conversation_id == conversation_id)
                .order_by(m.AiCall.at, m.AiCall.id)
            )
        ).scalars()
    )


def call_json(call: m.AiCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "conversation_id": call.conversation_id,
        "feature": call.feature,
        "step": call.step,
        "at": rfc3339(call.at),
        "model": call.model,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "latency_ms": call.latency_ms,
        "outcome": call.outcome,
        "detail": call.detail,
        "sent": list(call.sent or []),
        "answer": call.answer,
    }
