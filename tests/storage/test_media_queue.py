"""A channel message's file still at the provider is queued for copying (``media_fetches``)
by the writer, in the message's own transaction: a stored message always has its queue
row, and a failed write leaves neither."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Attachment
from storage import models as m
from storage.batch_plan import plan
from storage.store import SqlStore

from .conftest import Workspace
from .test_batch_plan import CUSTOM, NOW, OLGA, OPEN, WHATSAPP, item
from .test_writer import count, inbound

AT_PROVIDER = Attachment(url=None, mime="image/jpeg", provider_media_id="65463453")
BY_URL = Attachment(url="https://scontent.xx.fbcdn.net/v/abc.jpg", mime="image/jpeg")
KEPT = Attachment(url="/api/files/md_1", mime="image/jpeg", media_id="md_1")


def test_an_inbound_file_at_the_provider_is_queued_with_its_message() -> None:
    photo = item(0, channel_id="ch_wa", attachments=(AT_PROVIDER,))
    out = plan([photo], {0: WHATSAPP}, {"cv_2": OPEN}, {}, NOW)
    assert out.media_fetches == [
        {"message_id": "msg_0", "workspace_id": "ws_1", "attempts": 0, "next_attempt_at": NOW}
    ]


def test_a_file_by_its_providers_https_url_is_queued() -> None:
    photo = item(0, channel_id="ch_wa", attachments=(KEPT, BY_URL))
    out = plan([photo], {0: WHATSAPP}, {"cv_2": OPEN}, {}, NOW)
    assert [r["message_id"] for r in out.media_fetches] == ["msg_0"]


def test_a_file_the_hub_already_keeps_is_not_queued() -> None:
    reply = item(0, author=OLGA, direction="out", channel_id="ch_wa", attachments=(KEPT,))
    out = plan([reply], {0: WHATSAPP}, {"cv_2": OPEN}, {}, NOW)
    assert out.media_fetches == []


def test_a_file_on_a_channel_without_a_provider_is_not_queued() -> None:
    out = plan([item(0, attachments=(BY_URL,))], {0: CUSTOM}, {"cv_1": OPEN}, {}, NOW)
    assert out.media_fetches == []


def test_a_copy_of_a_stored_message_queues_nothing_again() -> None:
    twins = [item(0, channel_id="ch_wa", attachments=(AT_PROVIDER,))] * 2
    out = plan(twins, dict.fromkeys(range(2), WHATSAPP), {"cv_2": OPEN}, {}, NOW)
    assert len(out.media_fetches) == 1


async def test_a_stored_channel_message_has_its_file_queued(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    photo = inbound(workspace, channel_id=workspace.whatsapp, attachments=(AT_PROVIDER,))
    result = await store.write(photo)
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(m.MediaFetch).where(m.MediaFetch.message_id == photo.id))
        ).one()
    assert result.created
    assert (row.workspace_id, row.attempts, row.last_error) == (workspace.id, 0, None)


async def test_a_file_that_cannot_be_queued_fails_its_message_write_and_stores_nothing(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    """The queue row goes in with the message or not at all: here a row already holds the
    message's id (as if left by an erased message of that id), so the insert fails."""
    photo = inbound(workspace, channel_id=workspace.whatsapp, attachments=(AT_PROVIDER,))
    stale = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            m.table_of(m.MediaFetch).insert(),
            {
                "message_id": photo.id,
                "workspace_id": workspace.id,
                "attempts": 5,
                "next_attempt_at": stale,
            },
        )
    with pytest.raises(IntegrityError):
        await store.write(photo)
    assert await count(engine, m.Message, m.Message.channel_id == workspace.whatsapp) == 0
    assert await count(engine, m.Conversation, m.Conversation.channel_id == workspace.whatsapp) == 0
    queued = await count(engine, m.MediaFetch, m.MediaFetch.message_id == photo.id)
    assert queued == 1  # the row that was there before, alone
