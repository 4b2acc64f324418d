"""A contact's say over processing: restriction and objection (GDPR art. 18 and 21).

``normal``: everything the workspace set up runs. ``restricted``: the data is kept but
nothing automated runs for the contact (no flow, AI step, CSAT survey or other automated
message, nothing sent to an outside service except the operators' own replies).
``objected`` (do not contact): nothing goes out to the contact at all, except a message an
operator explicitly confirms.

Two questions, one place each, for every feature to ask:

- :func:`may_automate` — may an automated feature act for this contact?
- :func:`refusal_for_operator_message` — may an operator's message go out now?

A contact of another workspace (or none) is :class:`hub.store.NotFound`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from hub.model import utcnow
from hub.store import NotFound
from storage import models as m
from storage.models import table_of

Processing = Literal["normal", "restricted", "objected"]
PROCESSING: Final[tuple[str, ...]] = get_args(Processing)

OBJECTED_CODE = "contact_objected"
OBJECTED_DETAIL = (
    "This contact objected to being contacted; send it only if you must, with "
    '"confirm_objection": true.'
)

T_CONTACT = table_of(m.Contact)
T_CONV = table_of(m.Conversation)

Db = AsyncEngine | AsyncSession | AsyncConnection


class InvalidProcessing(ValueError):
    """Not one of :data:`PROCESSING`."""


def may_automate(contact: Any) -> bool:
    """Whether flows, AI steps, CSAT surveys and other automated messages may run for
    ``contact`` (a contact row, its wire dict, or a processing value).

    Only a contact whose processing is ``normal``: restricted and objected contacts get
    nothing automated. Every automated feature calls this before it acts.
    """
    if isinstance(contact, str):
        value = contact
    elif isinstance(contact, dict):
        value = contact.get("processing", "normal")
    else:
        value = getattr(contact, "processing", "normal")
    return (value or "normal") == "normal"


def refusal_for_operator_message(processing: str, confirmed: bool) -> str | None:
    """Why an operator's message to a contact with ``processing`` may not go out (the
    error code is :data:`OBJECTED_CODE`), else None. Only an objection refuses, and the
    operator's confirmation overrides it."""
    if processing == "objected" and not confirmed:
        return OBJECTED_DETAIL
    return None


def validate(value: Any) -> Processing:
    if value not in PROCESSING:
        raise InvalidProcessing("processing must be normal, restricted or objected.")
    return value  # type: ignore[no-any-return]


async def _scalar(db: Db, query: Any) -> Any:
    if isinstance(db, AsyncEngine):
        async with db.connect() as conn:
            return await conn.scalar(query)
    return await db.scalar(query)


async def of_conversation(db: Db, conversation_id: str) -> str:
    """The processing of the contact behind ``conversation_id``; NotFound when none."""
    value = await _scalar(
        db,
        select(T_CONTACT.c.processing)
        .select_from(T_CONV.join(T_CONTACT, T_CONTACT.c.id == T_CONV.c.contact_id))
        .where(T_CONV.c.id == conversation_id),
    )
    if value is None:
        raise NotFound("no such conversation")
    return str(value)


async def may_automate_conversation(db: Db, conversation_id: str) -> bool:
    """:func:`may_automate` for a feature holding only a conversation (a flow runner)."""
    return may_automate(await of_conversation(db, conversation_id))


async def set_processing(
    conn: AsyncConnection,
    workspace_id: str,
    contact_id: str,
    value: Processing,
    operator_id: str | None,
    now: datetime | None = None,
) -> bool:
    """Record ``value`` for the contact, with who and when; True when it changed.

    Runs in the caller's transaction (the caller adds the audit entry beside it).
    """
    current = await conn.scalar(
        select(T_CONTACT.c.processing).where(
            T_CONTACT.c.id == contact_id, T_CONTACT.c.workspace_id == workspace_id
        )
    )
    if current is None:
        raise NotFound("no such contact in this workspace")
    if current == value:
        return False
    await conn.execute(
        update(T_CONTACT)
        .where(T_CONTACT.c.id == contact_id, T_CONTACT.c.workspace_id == workspace_id)
        .values(
            processing=value,
            processing_changed_at=now or utcnow(),
            processing_changed_by=operator_id,
        )
    )
    return True
