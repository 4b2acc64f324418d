"""Every AI call goes through :func:`call`: the one place that decides whether anything
may leave, what exactly leaves, and that records it.

In order: the server must name a provider and the workspace must have switched AI on
(else nothing happens and nothing is recorded); the contact's processing must be normal
and the workspace's monthly token budget not spent (else the refusal is recorded, with
nothing sent); then only the last N text messages of this one conversation, redacted,
go to the provider, through the process's outside client (``INVIARO_PROVIDER_ORIGINS``
applies). The request and the answer are recorded with the conversation, the tokens
counted against the month, the metrics observed. The database is never held open while
the provider thinks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.ai import AiFailure, Provider, complete
from hub.ai import Redactor, Turn
from hub.ids import new_id
from hub.model import utcnow
from storage import ai_calls
from storage import models as m
from storage.processing import may_automate
from web import metrics
from web.config import Settings

if TYPE_CHECKING:
    from web.services import Services

T = TypeVar("T")
Build = Callable[[list[Turn], Redactor], list[dict[str, str]]]
Read = Callable[[Any, dict[str, str]], T | None]


class AiRefused(Exception):
    """Nothing was sent: AI is off or unavailable, the contact is restricted, the budget
    is spent. ``status``/``code``/``detail`` are the API's answer."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class AiFailed(Exception):
    """A request went out but gave no usable answer (recorded as ``call_id``)."""

    def __init__(self, reason: str, call_id: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.call_id = call_id


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    value: T
    call_id: str


def provider(settings: Settings) -> Provider | None:
    """The server's provider, or None when it names none (AI is then off everywhere)."""
    if not settings.ai_configured:
        return None
    assert settings.ai_base_url is not None and settings.ai_api_key is not None
    return Provider(
        settings.ai_base_url, settings.ai_api_key, settings.ai_model, settings.ai_timeout_s
    )


def may_use_ai(contact: m.Contact) -> bool:
    """Whether anything about this contact may go to the AI provider: only when its
    processing is ``normal`` (restricted and objected contacts never are)."""
    return may_automate(contact)


UNUSABLE = "unusable answer"  # the reason of an answer that is not what was asked
UNAVAILABLE = AiRefused(422, "ai_unavailable", "This server has no AI provider configured.")
OFF = AiRefused(422, "ai_off", "AI is off for this workspace; an owner can turn it on.")


async def call(
    services: Services,
    *,
    workspace_id: str,
    conversation_id: str,
    feature: str,
    build: Build,
    read: Read[T],
    step: str | None = None,
    last_messages: int | None = None,
) -> Done[T]:
    """Ask the provider about one conversation; ``build`` makes the chat messages from its
    redacted turns, ``read`` turns the answer into a value (None: unusable). Raises
    :class:`AiRefused` (nothing sent) or :class:`AiFailed` (sent, recorded, unusable)."""
    chosen = provider(services.settings)
    if chosen is None:
        raise UNAVAILABLE
    limit = min(
        last_messages or services.settings.ai_last_messages, services.settings.ai_last_messages
    )
    async with services.db() as db:
        found = (
            await db.execute(
                select(m.Workspace, m.Contact)
                .join(m.Conversation, m.Conversation.workspace_id == m.Workspace.id)
                .join(m.Contact, m.Contact.id == m.Conversation.contact_id)
                .where(m.Conversation.id == conversation_id, m.Workspace.id == workspace_id)
            )
        ).first()
        if found is None:
            raise AiRefused(404, "not_found", "There is no such conversation.")
        workspace, contact = found[0], found[1]
        if not workspace.ai_enabled:
            raise OFF
        refusal = await _refusal(db, workspace, contact)
        if refusal is not None:
            _record(db, workspace_id, conversation_id, feature, step, refusal.code, refusal.detail)
            await db.commit()
            metrics.AI_CALLS.labels(feature, refusal.code).inc()
            raise refusal
        rows = await ai_calls.recent_turns(db, conversation_id, limit)
    redactor = Redactor()
    turns = [
        Turn("user" if kind == "contact" else "assistant", redactor(text))
        for kind, text in rows
        if kind != "system"
    ]
    messages = build(turns, redactor)
    started = time.perf_counter()
    answer_text: str | None = None
    tokens = (0, 0)
    model = chosen.model
    value: T | None = None
    detail: str | None = None
    try:
        answer = await complete(services.http, chosen, messages)
    except AiFailure as exc:
        outcome, detail, tokens = "failed", exc.reason, exc.tokens
    else:
        answer_text, model = answer.text, answer.model or chosen.model
        tokens = (answer.prompt_tokens, answer.completion_tokens)
        value = read(answer.content, dict(redactor.found))
        outcome, detail = ("ok", None) if value is not None else ("invalid", UNUSABLE)
    seconds = time.perf_counter() - started
    metrics.AI_SECONDS.labels(feature).observe(seconds)
    metrics.AI_CALLS.labels(feature, outcome).inc()
    month = ai_calls.month_of(utcnow())
    try:
        async with services.db() as db:
            record = _record(db, workspace_id, conversation_id, feature, step, outcome, detail)
            record.model, record.sent, record.answer = model, messages, answer_text
            record.prompt_tokens, record.completion_tokens = tokens
            record.latency_ms = round(seconds * 1000)
            await ai_calls.add_tokens(db, workspace_id, month, sum(tokens))
            await db.commit()
    except IntegrityError:  # the conversation was erased while the provider thought
        async with services.db() as db:
            await ai_calls.add_tokens(db, workspace_id, month, sum(tokens))  # still spent
            await db.commit()
        raise AiRefused(404, "not_found", "The conversation was erased meanwhile.") from None
    if value is None:
        raise AiFailed(detail or UNUSABLE, record.id)
    return Done(value, record.id)


async def _refusal(
    db: AsyncSession, workspace: m.Workspace, contact: m.Contact
) -> AiRefused | None:
    if not may_use_ai(contact):
        return AiRefused(
            409,
            "contact_restricted",
            "This contact restricted the processing of their data; nothing goes to AI.",
        )
    budget = workspace.ai_monthly_tokens
    if budget is not None:
        month = ai_calls.month_of(utcnow())
        if await ai_calls.tokens_used(db, workspace.id, month) >= budget:
            return AiRefused(
                429,
                "ai_budget_spent",
                f"This workspace spent its AI budget of {budget} tokens for {month}.",
            )
    return None


def _record(
    db: AsyncSession,
    workspace_id: str,
    conversation_id: str,
    feature: str,
    step: str | None,
    outcome: str,
    detail: str | None,
) -> m.AiCall:
    record = m.AiCall(
        id=new_id("ai_"),
        at=utcnow(),
        workspace_id=workspace_id,
        conversation_id=conversation_id,
        feature=feature,
        step=step,
        outcome=outcome,
        detail=None if detail is None else detail[:300],
        model="",
        sent=[],
        prompt_tokens=0,
        completion_tokens=0,
        latency_ms=0,
    )
    db.add(record)
    return record
