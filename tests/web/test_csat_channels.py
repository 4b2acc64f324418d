"""CSAT on a provider channel (WhatsApp): the survey is a question answered by a reply of
one digit, sent only inside the channel's 24-hour window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from storage import models as m
from tests.web.webhook_hub import Hub, hub_server, post_meta, unique, wa_message


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started


async def customer_writes(hub: Hub, channel: str, sender: str, text: str) -> m.Message:
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
    data["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = text
    assert (await post_meta(hub, channel, data)).status_code == 200
    return [msg for msg in await hub.messages(channel) if msg.text == text][-1]


async def surveys(hub: Hub, conversation_id: str) -> list[Any]:
    async with hub.services.db() as db:
        query = select(m.CsatRating).where(m.CsatRating.conversation_id == conversation_id)
        return list(await db.scalars(query))


async def test_a_whatsapp_survey_is_a_question_and_a_digit_answers_it(hub: Hub) -> None:
    channel = await hub.channel("whatsapp", phone_number_id=unique("10"))
    sender = unique("4917")
    first = await customer_writes(hub, channel, sender, "Where is my parcel?")
    conv = first.conversation_id
    resolved = await hub.owner.patch(f"/api/conversations/{conv}", {"status": "resolved"})
    assert resolved.status_code == 200, resolved.text
    [survey] = [msg for msg in await hub.messages(channel) if msg.author_kind == "bot"]
    assert "Reply with a number from 1 (poor) to 5 (great)" in survey.text
    assert survey.status == "queued"  # through the outbox, like every reply
    await customer_writes(hub, channel, sender, "5")
    await hub.services.csat_answers.idle()
    async with hub.services.db() as db:
        rating = await db.scalar(
            select(m.CsatRating.rating).where(m.CsatRating.conversation_id == conv)
        )
    assert rating == 5


async def test_no_survey_once_the_window_closed(hub: Hub) -> None:
    channel = await hub.channel("whatsapp", phone_number_id=unique("10"))
    first = await customer_writes(hub, channel, unique("4917"), "Hello?")
    async with hub.services.db() as db:
        await db.execute(
            update(m.Conversation)
            .where(m.Conversation.id == first.conversation_id)
            .values(last_inbound_at=datetime.now(UTC) - timedelta(days=2))
        )
        await db.commit()
    resolved = await hub.owner.patch(
        f"/api/conversations/{first.conversation_id}", {"status": "resolved"}
    )
    assert resolved.status_code == 200, resolved.text
    assert await surveys(hub, first.conversation_id) == []
    assert [msg.author_kind for msg in await hub.messages(channel)] == ["contact"]
