"""Objection enforced at the doors an operator's message leaves by.

The HTTP API (a reply, a WhatsApp template) calls :func:`check_operator_message` before
``hub.accept``; the operator socket asks ``Hub.objection_check``, which
:class:`web.services.Services` points at :func:`objection_check`. Both refuse a message to
a contact who objected with ``contact_objected`` (HTTP 409, or an ``error`` frame) unless
the message carries ``"confirm_objection": true``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.service import ObjectionCheck
from hub.store import NotFound
from storage import models as m
from storage import processing
from web.errors import ApiError

if TYPE_CHECKING:
    from web.services import Services


def confirmation(data: dict[str, Any]) -> bool:
    """The body's ``confirm_objection`` (false when absent); 422 when not a boolean."""
    value = data.get("confirm_objection", False)
    if not isinstance(value, bool):
        raise ApiError(422, "invalid", "confirm_objection must be true or false.")
    return value


async def check_operator_message(db: Any, conv: m.Conversation, data: dict[str, Any]) -> None:
    """409 ``contact_objected`` when the conversation's contact objected and ``data`` does
    not confirm; ``db`` is the caller's ``AsyncSession``."""
    confirmed = confirmation(data)
    try:
        value = await processing.of_conversation(db, conv.id)
    except NotFound:
        return  # gone meanwhile: the accept path answers 404 itself
    refusal = processing.refusal_for_operator_message(value, confirmed)
    if refusal is not None:
        raise ApiError(409, processing.OBJECTED_CODE, refusal)


def objection_check(services: Services) -> ObjectionCheck:
    """The operator socket's check, one callable per process."""

    async def check(conversation_id: str, confirmed: bool) -> str | None:
        try:
            value = await processing.of_conversation(services.engine, conversation_id)
        except NotFound:
            return None  # the accept path answers not_found itself
        return processing.refusal_for_operator_message(value, confirmed)

    return check
