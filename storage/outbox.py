"""The outbox's state machine, and delivery reports applied to stored outbound messages.

The batching writer puts an operator's reply to an external channel in ``outbox`` in the
same transaction as the message (status ``queued``). Workers then:

1. :func:`claim_due` a batch: rows whose ``next_attempt_at`` has come and whose lease
   (``locked_until``) is free or expired. On Postgres the rows are picked with
   ``FOR UPDATE SKIP LOCKED`` and leased in that one transaction (:mod:`storage.claims`),
   so concurrent workers never claim the same row while its lease runs; a worker killed
   mid-send simply lets its lease expire and another worker picks the row up again
   (at-least-once: a send that was in flight at the kill may reach the provider twice,
   since the providers take no idempotency key). SQLite has one writer at a time
   (``BEGIN IMMEDIATE``), so the same statements without the row lock are already
   exclusive there.
   ``attempts`` counts claims, so a message that crashes its worker still runs out.
   The claimed messages become ``sending``.
2. :func:`complete_sent`: the provider accepted it; the message becomes ``sent`` with the
   provider's id (which later delivery reports name) and the row is deleted.
3. :func:`retry_later` or :func:`fail`: back off (the message is ``queued`` again and
   says why, after how many attempts, and when the next one is), or give up: ``failed``
   with the reason in words and the provider's code.
4. :func:`requeue`: an operator's Retry puts a ``failed`` message back in the outbox.

Delivery reports (:func:`apply_status`, :func:`apply_watermark`) only ever move a message
forward by :data:`hub.model.STATUS_RANK`, since providers redeliver and reorder them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.ids import new_id
from hub.model import STATUS_RANK, Attachment, Delivery, MessageStatus, SendFailure, utcnow
from hub.store import Receipt
from storage import claims
from storage import models as m
from storage.models import table_of

T_OUTBOX = table_of(m.OutboxItem)
T_MSG = table_of(m.Message)
T_CONV = table_of(m.Conversation)
T_CHANNEL = table_of(m.Channel)
T_IDENT = table_of(m.ContactIdentity)

# The conversation's contact as known on the conversation's channel.
_CONV_IDENTITY = and_(
    T_IDENT.c.contact_id == T_CONV.c.contact_id,
    T_IDENT.c.channel_id == T_CONV.c.channel_id,
)

# A watermark ("everything before t was read") applies to messages the provider has seen.
_WATERMARKABLE: tuple[MessageStatus, ...] = ("sent", "delivered")
MAX_ERROR = 1000


@dataclass(frozen=True, slots=True)
class Claimed:
    """One leased outbox row with everything a send needs.

    ``channel_secrets`` is still encrypted (storage never holds the key); ``recipient``
    is the contact's id on the channel (phone number, PSID, Viber id), None if the
    identity is gone. ``attempts`` already counts this claim.
    """

    outbox_id: str
    message_id: str
    workspace_id: str
    conversation_id: str
    channel_id: str
    channel_kind: str
    channel_config: dict[str, Any]
    channel_secrets: str | None
    channel_disabled: bool
    recipient: str | None
    text: str
    attachments: tuple[Attachment, ...]
    attempts: int
    locked_until: datetime
    payload: dict[str, Any] | None = None  # structured content (a WhatsApp template)


async def claim_due(
    engine: AsyncEngine, *, limit: int, lease: timedelta, now: datetime | None = None
) -> list[Claimed]:
    """Lease up to ``limit`` due rows for ``lease`` and return them, oldest due first."""
    now = now or utcnow()
    until = now + lease
    async with engine.begin() as conn:
        leased = await claims.claim(
            conn,
            T_OUTBOX.c.id,
            due=(T_OUTBOX.c.next_attempt_at <= now)
            & (T_OUTBOX.c.locked_until.is_(None) | (T_OUTBOX.c.locked_until <= now)),
            order_by=(T_OUTBOX.c.next_attempt_at, T_OUTBOX.c.id),
            limit=limit,
            lease={"locked_until": until, "attempts": T_OUTBOX.c.attempts + 1},
        )
        if not leased:
            return []
        claimed = await _details(conn, [r.id for r in leased], until)
        await conn.execute(
            update(T_MSG)
            .where(
                T_MSG.c.id.in_([c.message_id for c in claimed]),
                T_MSG.c.status.in_(("queued", "sending")),
            )
            .values(status="sending", next_attempt_at=None)
        )
        return claimed


def sending(item: Claimed) -> Receipt:
    """The receipt that says ``item`` is on its way to the provider (attempt n)."""
    return Receipt(
        item.workspace_id,
        item.conversation_id,
        item.message_id,
        "sending",
        Delivery(attempts=item.attempts),
    )


async def _details(conn: AsyncConnection, ids: list[str], until: datetime) -> list[Claimed]:
    rows = await conn.execute(
        select(
            T_OUTBOX.c.id,
            T_OUTBOX.c.attempts,
            T_OUTBOX.c.next_attempt_at,
            T_MSG.c.id.label("message_id"),
            T_MSG.c.workspace_id,
            T_MSG.c.conversation_id,
            T_MSG.c.text,
            T_MSG.c.attachments,
            T_MSG.c.payload,
            T_CHANNEL.c.id.label("channel_id"),
            T_CHANNEL.c.kind,
            T_CHANNEL.c.config,
            T_CHANNEL.c.secrets,
            T_CHANNEL.c.disabled,
            T_IDENT.c.external_id,
        )
        .select_from(
            T_OUTBOX.join(T_MSG, T_MSG.c.id == T_OUTBOX.c.message_id)
            .join(T_CONV, T_CONV.c.id == T_MSG.c.conversation_id)
            .join(T_CHANNEL, T_CHANNEL.c.id == T_CONV.c.channel_id)
            .outerjoin(T_IDENT, _CONV_IDENTITY)
        )
        .where(T_OUTBOX.c.id.in_(ids))
        .order_by(T_OUTBOX.c.next_attempt_at, T_OUTBOX.c.id, T_IDENT.c.created_at)
    )
    claimed: dict[str, Claimed] = {}
    for r in rows:
        if r.id in claimed:
            continue  # a contact with two identities on one channel: the oldest wins
        claimed[r.id] = Claimed(
            outbox_id=r.id,
            message_id=r.message_id,
            workspace_id=r.workspace_id,
            conversation_id=r.conversation_id,
            channel_id=r.channel_id,
            channel_kind=r.kind,
            channel_config=dict(r.config or {}),
            channel_secrets=r.secrets,
            channel_disabled=bool(r.disabled),
            recipient=r.external_id,
            text=r.text or "",
            attachments=tuple(Attachment.from_record(a) for a in r.attachments or ()),
            attempts=r.attempts,
            locked_until=until,
            payload=dict(r.payload) if isinstance(r.payload, dict) else None,
        )
    return list(claimed.values())


async def complete_sent(
    engine: AsyncEngine, item: Claimed, provider_message_id: str
) -> Receipt | None:
    """The provider accepted the message: ``sent`` with its id, and the row is gone.

    Returns the receipt to publish, or None when the message already moved on (a
    delivery report can only name it once it has the provider id, so that is a
    redelivered claim). If the provider's id is already held by another message of the
    channel (an echo webhook that beat this commit), the message keeps no provider id
    rather than breaking the unique index; it is still ``sent``.
    """
    async with engine.begin() as conn:
        taken = await conn.scalar(
            select(T_MSG.c.id).where(
                T_MSG.c.channel_id == item.channel_id,
                T_MSG.c.provider_message_id == provider_message_id,
                T_MSG.c.id != item.message_id,
            )
        )
        values: dict[str, Any] = {
            "error": None,
            "error_code": None,
            "next_attempt_at": None,
            "attempts": item.attempts,
        }
        if taken is None:
            values["provider_message_id"] = provider_message_id
        return await _settle(conn, item, "sent", ("queued", "sending", "failed"), values)


async def retry_later(
    engine: AsyncEngine, item: Claimed, at: datetime, error: SendFailure, technical: str
) -> Receipt | None:
    """Release the lease and try again at ``at``. The message is ``queued`` again and
    carries ``error`` (the last attempt's), its attempts and ``at``: a retrying send says
    so; the outbox row keeps the ``technical`` detail for operations. Returns the receipt
    to publish (None if the message had moved on meanwhile)."""
    detail = error.detail[:MAX_ERROR]
    async with engine.begin() as conn:
        await conn.execute(
            update(T_OUTBOX)
            .where(T_OUTBOX.c.id == item.outbox_id)
            .values(next_attempt_at=at, locked_until=None, last_error=technical[:MAX_ERROR])
        )
        changed = await conn.execute(
            update(T_MSG)
            .where(T_MSG.c.id == item.message_id, T_MSG.c.status.in_(("queued", "sending")))
            .values(
                status="queued",
                error=detail,
                error_code=error.code,
                attempts=item.attempts,
                next_attempt_at=at,
            )
            .returning(T_MSG.c.id)
        )
        if changed.first() is None:
            return None
    delivery = Delivery(SendFailure(error.code, detail), item.attempts, at)
    return Receipt(item.workspace_id, item.conversation_id, item.message_id, "queued", delivery)


async def fail(engine: AsyncEngine, item: Claimed, error: SendFailure) -> Receipt | None:
    """Give up: the message becomes ``failed`` with ``error`` and the row is gone."""
    values = {
        "error": error.detail[:MAX_ERROR],
        "error_code": error.code[:64],
        "attempts": item.attempts,
        "next_attempt_at": None,
    }
    async with engine.begin() as conn:
        return await _settle(conn, item, "failed", ("queued", "sending"), values)


class NotRetryable(Exception):
    """The message cannot be sent again: it is not a failed send of this conversation."""


async def requeue(
    engine: AsyncEngine, workspace_id: str, conversation_id: str, message_id: str
) -> Receipt:
    """An operator's Retry: a ``failed`` outbound message of a channel is ``queued`` again
    with a fresh outbox row, due now. Raises :class:`NotRetryable` otherwise."""
    now = utcnow()
    async with engine.begin() as conn:
        changed = await conn.execute(
            update(T_MSG)
            .where(
                T_MSG.c.id == message_id,
                T_MSG.c.workspace_id == workspace_id,
                T_MSG.c.conversation_id == conversation_id,
                T_MSG.c.direction == "out",
                T_MSG.c.private.is_(False),
                T_MSG.c.status == "failed",
                T_MSG.c.provider_message_id.is_(None),
            )
            .values(status="queued", error=None, error_code=None, attempts=0, next_attempt_at=now)
            .returning(T_MSG.c.id)
        )
        if changed.first() is None:
            raise NotRetryable(message_id)
        await conn.execute(T_OUTBOX.delete().where(T_OUTBOX.c.message_id == message_id))
        await conn.execute(
            T_OUTBOX.insert().values(
                id=new_id("ob_"),
                workspace_id=workspace_id,
                message_id=message_id,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    delivery = Delivery(next_attempt_at=now)
    return Receipt(workspace_id, conversation_id, message_id, "queued", delivery)


async def _settle(
    conn: AsyncConnection,
    item: Claimed,
    status: MessageStatus,
    from_statuses: tuple[str, ...],
    values: dict[str, Any],
) -> Receipt | None:
    """Move the message to ``status`` (with ``values``) if it is still in one of
    ``from_statuses``, and delete the outbox row either way. Returns the receipt to
    publish once the transaction commits, or None when the message had moved on."""
    changed = await conn.execute(
        update(T_MSG)
        .where(T_MSG.c.id == item.message_id, T_MSG.c.status.in_(from_statuses))
        .values(status=status, **values)
        .returning(T_MSG.c.id)
    )
    moved = changed.first() is not None
    await conn.execute(T_OUTBOX.delete().where(T_OUTBOX.c.id == item.outbox_id))
    if not moved:
        return None
    delivery = Delivery(attempts=item.attempts)
    if status == "failed":
        delivery = Delivery(SendFailure(values["error_code"], values["error"]), item.attempts)
    return Receipt(item.workspace_id, item.conversation_id, item.message_id, status, delivery)


async def backlog(engine: AsyncEngine) -> int:
    """Rows waiting in the outbox (due or backing off), for the ``outbox_backlog`` gauge."""
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(T_OUTBOX)) or 0)


def _below(status: MessageStatus, candidates: Sequence[MessageStatus]) -> list[str]:
    rank = STATUS_RANK[status]
    return [s for s in candidates if STATUS_RANK[s] < rank]


async def _advance(
    engine: AsyncEngine,
    status: MessageStatus,
    lower: list[str],
    values: dict[str, Any],
    *where: ColumnElement[bool],
) -> list[Receipt]:
    """Move the outbound messages matching ``where`` from a ``lower`` status to ``status``
    (with ``values``); returns one receipt per message moved."""
    async with engine.begin() as conn:
        rows = await conn.execute(
            update(T_MSG)
            .where(*where, T_MSG.c.direction == "out", T_MSG.c.status.in_(lower))
            .values(status=status, **values)
            .returning(T_MSG.c.id, T_MSG.c.workspace_id, T_MSG.c.conversation_id)
        )
        delivery = Delivery()
        if "error" in values:
            delivery = Delivery(SendFailure(values["error_code"], values["error"]))
        return [Receipt(r.workspace_id, r.conversation_id, r.id, status, delivery) for r in rows]


async def apply_status(
    engine: AsyncEngine,
    channel_id: str,
    provider_message_id: str,
    status: MessageStatus,
    error: str | None = None,
    error_code: str | None = None,
) -> list[Receipt]:
    """Move the outbound message the provider calls ``provider_message_id`` forward to
    ``status`` (never back: a late ``delivered`` after ``read`` changes nothing). A
    ``failed`` keeps the provider's reason and code. Returns the receipts to publish."""
    lower = _below(status, ("sent", "delivered", "read"))
    if not lower:
        return []
    values: dict[str, Any] = {}
    if status == "failed":
        values["error"] = (error or "The provider reported the message as failed.")[:MAX_ERROR]
        values["error_code"] = (error_code or "provider_failed")[:64]
    return await _advance(
        engine,
        status,
        lower,
        values,
        T_MSG.c.channel_id == channel_id,
        T_MSG.c.provider_message_id == provider_message_id,
    )


async def apply_watermark(
    engine: AsyncEngine,
    channel_id: str,
    contact_external_id: str,
    status: MessageStatus,
    at: datetime,
) -> list[Receipt]:
    """Messenger/Instagram receipts: every outbound message to this contact on this
    channel created at or before ``at`` moves forward to ``status``."""
    lower = _below(status, _WATERMARKABLE)
    if not lower:
        return []
    conversations = (
        select(T_CONV.c.id)
        .join(T_IDENT, _CONV_IDENTITY)
        .where(T_IDENT.c.channel_id == channel_id, T_IDENT.c.external_id == contact_external_id)
    )
    return await _advance(
        engine,
        status,
        lower,
        {},
        T_MSG.c.conversation_id.in_(conversations),
        T_MSG.c.created_at <= at,
    )
