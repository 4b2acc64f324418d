"""The customer-service window of Meta's channels, enforced before a free-form reply.

WhatsApp, Messenger and Instagram accept a free-form ("service") message only within 24
hours of the contact's last message on that thread; every new inbound message reopens the
window, and the business's own messages do not (CHANNELS.md §2.6, §3.6). Outside it
WhatsApp needs an approved template and Messenger/Instagram a message tag. Refusing here
gives the operator a clear 422 at once instead of a send that fails later in the outbox.

The widget, Viber and custom channels have no such window. The clock is the hub's receipt
time of the last inbound message (``Conversation.last_inbound_at``, set by the writer).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.session import ReplyCheck
from storage import models as m
from web.errors import ApiError

if TYPE_CHECKING:
    from web.services import Services

WINDOW = timedelta(hours=24)
WINDOW_KINDS = frozenset({"whatsapp", "messenger", "instagram"})

_NAMES = {"whatsapp": "WhatsApp", "messenger": "Messenger", "instagram": "Instagram"}
_AFTER_WINDOW = {
    "whatsapp": "send an approved WhatsApp template message instead",
    "messenger": "Messenger only accepts a reply with a message tag now",
    "instagram": "Instagram only accepts a reply with a message tag now",
}


def window_open(kind: str, last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether a free-form reply may go out on a channel of ``kind`` right now."""
    if kind not in WINDOW_KINDS:
        return True
    if last_inbound_at is None:
        return False  # the contact never wrote on this thread: nothing opened a window
    now = now or datetime.now(UTC)
    if last_inbound_at.tzinfo is None:  # SQLite hands back naive UTC datetimes
        last_inbound_at = last_inbound_at.replace(tzinfo=UTC)
    return now - last_inbound_at <= WINDOW


def window_closed_error(kind: str) -> ApiError:
    return ApiError(
        422,
        "window_closed",
        f"The contact last wrote more than 24 hours ago, so {_NAMES.get(kind, kind)} does not "
        f"accept a free-form reply; {_AFTER_WINDOW.get(kind, 'use a template')}.",
    )


def _require_open(kind: str | None, last_inbound_at: datetime | None, now: datetime | None) -> None:
    kind = kind or ""  # the channel is gone: no window to keep
    if not window_open(kind, last_inbound_at, now):
        raise window_closed_error(kind)


async def check_reply_window(
    db: Any, conversation: m.Conversation, now: datetime | None = None
) -> None:
    """Raise 422 ``window_closed`` when a free-form reply on ``conversation`` would break
    its channel's 24-hour rule; return None otherwise (or for channels without a window).

    ``db`` is an ``AsyncSession`` (the caller's own); one ``get`` loads the channel.
    Call it before ``hub.accept`` of an operator's outbound message, never for inbound.
    """
    channel = await db.get(m.Channel, conversation.channel_id)
    _require_open(channel.kind if channel is not None else None, conversation.last_inbound_at, now)


async def check_reply_window_by_id(
    services: Services, conversation_id: str, now: datetime | None = None
) -> None:
    """:func:`check_reply_window` for callers holding only an id (the operator socket),
    in one query for the conversation and its channel's kind.

    An unknown conversation passes: the accept path answers ``not_found`` for it itself.
    """
    query = (
        select(m.Channel.kind, m.Conversation.last_inbound_at)
        .select_from(m.Conversation)
        .outerjoin(m.Channel, m.Channel.id == m.Conversation.channel_id)
        .where(m.Conversation.id == conversation_id)
    )
    async with services.db() as db:
        row = (await db.execute(query)).first()
    if row is not None:
        _require_open(row.kind, row.last_inbound_at, now)


def reply_check(services: Services) -> ReplyCheck:
    """The operator socket's reply-window check: one callable per process, shared by every
    operator session (:class:`web.services.Services` builds it)."""

    async def check(conversation_id: str) -> str | None:
        try:
            await check_reply_window_by_id(services, conversation_id)
        except ApiError as refusal:
            return refusal.detail
        return None

    return check
