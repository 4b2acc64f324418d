"""CSAT in the running hub: the survey a resolve sends, and the answer.

When an operator, or a flow's ``resolve`` step, resolves a conversation whose contact
wrote, and the workspace asks for ratings (``csat_enabled``, on by default, switched in
Settings or with ``PATCH /api/workspace``), a survey goes out as a bot message: on the
widget with five buttons (the options a flow offers, valued ``csat:1`` to ``csat:5``),
on other channels as a question answered by a short reply "1" to "5", and
there only while the channel's reply window is open (a WhatsApp survey after 24 hours
would be refused anyway). Never for a restricted or objected contact
(:func:`storage.processing.may_automate`). The contact's answer (a tapped button, or a
message that is just the digit) is recorded on the newest survey within 24 hours; it does
not reopen the conversation it rates. Results: ``web/api/csat.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub.ids import new_id
from hub.model import Author, Inbound, Message
from hub.store import WriteResult
from storage import csat
from storage import models as m
from storage.processing import may_automate
from web.background import Background
from web.errors import ApiError
from web.window import check_reply_window_by_id

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger("inviaro.csat")

QUESTION = "How would you rate the help you got?"
TEXT_QUESTION = QUESTION + " Reply with a number from 1 (poor) to 5 (great)."
LABELS = ("1 Poor", "2", "3", "4", "5 Great")
SURVEYOR = Author("bot", None, "Satisfaction survey")


async def survey(services: Services, conversation_id: str, client_id: str | None = None) -> bool:
    """Send the survey for a conversation just resolved, when it may go out; ``client_id``
    makes a repeat of the same resolve store it once. Returns whether it was sent."""
    async with services.db() as db:
        conv = await db.get(m.Conversation, conversation_id)
        if conv is None or conv.status != "resolved" or conv.last_inbound_at is None:
            return False
        workspace = await db.get(m.Workspace, conv.workspace_id)
        if workspace is None or not workspace.csat_enabled:
            return False
        contact = await db.get(m.Contact, conv.contact_id)
        channel = await db.get(m.Channel, conv.channel_id)
        if contact is None or channel is None or not may_automate(contact):
            return False
        if await csat.pending_for(await db.connection(), conversation_id):
            return False  # one open survey at a time
        operator_id, team_id = conv.assignee_id, conv.team_id
        workspace_id, channel_id, kind = conv.workspace_id, conv.channel_id, channel.kind
    if kind != "widget":
        try:
            await check_reply_window_by_id(services, conversation_id)
        except ApiError:
            return False  # the window closed: a survey could not be delivered
    options = [
        {"label": label, "value": f"{csat.OPTION_PREFIX}{n}"} for n, label in enumerate(LABELS, 1)
    ]
    result = await services.hub.accept(
        Inbound(
            workspace_id=workspace_id,
            channel_id=channel_id,
            direction="out",
            author=SURVEYOR,
            text=QUESTION if kind == "widget" else TEXT_QUESTION,
            conversation_id=conversation_id,
            client_id=client_id or new_id("csat_"),
            status="queued",
            payload={"options": options} if kind == "widget" else None,
        )
    )
    if not result.created:
        return False  # this resolve's survey went out already
    async with services.db() as db, db.begin():
        await csat.record_request(
            await db.connection(),
            workspace_id,
            conversation_id,
            operator_id,
            team_id,
            result.message.id,
        )
    return True


class Answers:
    """``Hub.on_accepted``: a contact's message that answers a survey is recorded, in its
    own task, and the conversation it reopened goes back to resolved."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._background = Background(self._failed)

    def accepted(self, result: WriteResult) -> None:
        msg = result.message
        if not result.created or msg.direction != "in" or msg.author.kind != "contact":
            return
        rating = csat.rating_in(msg.text, msg.option)
        if rating is None:
            return
        self._background.spawn(self._record(msg, rating))

    def _failed(self, exc: BaseException) -> None:
        log.error("recording a rating failed", exc_info=exc)

    async def idle(self) -> None:
        await self._background.idle()

    async def _record(self, msg: Message, rating: int) -> None:
        from web.api.conversations import wire_conversations  # the API's wire form

        services = self.services
        async with services.db() as db, db.begin():
            if not await csat.answer(await db.connection(), msg.conversation_id, rating):
                return
            conv = await db.get(m.Conversation, msg.conversation_id)
            if conv is None or conv.status != "open":
                return
            conv.status = "resolved"  # a rating is no new question
            await db.flush()
            wire = (await wire_conversations(db, [conv]))[0]
        await services.hub.publish_conversation(msg.workspace_id, wire)


def install(services: Services) -> None:
    """Listen for survey answers on this process's hub."""
    answers = Answers(services)
    services.csat_answers = answers
    services.hub.on_accepted.append(answers.accepted)
