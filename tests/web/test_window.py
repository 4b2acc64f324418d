"""The 24-hour customer-service window (CHANNELS.md §2.6, §3.6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from storage import models as m
from tests.conftest import LiveServer
from tests.helpers import new_client, signup
from tests.web.webhook_hub import Hub, post_meta, unique, wa_message
from web.errors import ApiError
from web.window import WINDOW_KINDS, check_reply_window, check_reply_window_by_id, window_open

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeDb:
    """Just enough of an AsyncSession: ``get(Channel, id)``."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind

    async def get(self, model: Any, key: str) -> Any:
        assert model is m.Channel
        return None if self.kind is None else m.Channel(id=key, kind=self.kind)


def conversation(last_inbound_at: datetime | None) -> m.Conversation:
    return m.Conversation(id="cv_1", channel_id="ch_1", last_inbound_at=last_inbound_at)


@pytest.mark.parametrize("kind", sorted(WINDOW_KINDS))
@pytest.mark.parametrize(
    ("age", "allowed"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59), True),
        (timedelta(hours=24), True),
        (timedelta(hours=24, seconds=1), False),
        (timedelta(days=8), False),
    ],
)
async def test_meta_channels_refuse_free_form_replies_after_24_hours(
    kind: str, age: timedelta, allowed: bool
) -> None:
    conv = conversation(NOW - age)
    assert window_open(kind, conv.last_inbound_at, NOW) is allowed
    if allowed:
        assert await check_reply_window(FakeDb(kind), conv, NOW) is None
        return
    with pytest.raises(ApiError) as refused:
        await check_reply_window(FakeDb(kind), conv, NOW)
    assert (refused.value.status, refused.value.code) == (422, "window_closed")
    assert "24 hours" in refused.value.detail
    assert ("template" if kind == "whatsapp" else "message tag") in refused.value.detail


@pytest.mark.parametrize("kind", ["widget", "viber", "custom"])
@pytest.mark.parametrize("last", [None, NOW - timedelta(days=400), NOW])
async def test_widget_viber_and_custom_channels_have_no_window(
    kind: str, last: datetime | None
) -> None:
    assert await check_reply_window(FakeDb(kind), conversation(last), NOW) is None


async def test_a_thread_the_contact_never_wrote_in_is_outside_the_window() -> None:
    with pytest.raises(ApiError):
        await check_reply_window(FakeDb("whatsapp"), conversation(None), NOW)


def test_naive_times_from_sqlite_are_read_as_utc() -> None:
    naive = (NOW - timedelta(hours=1)).replace(tzinfo=None)
    assert window_open("whatsapp", naive, NOW)
    assert not window_open("whatsapp", naive - timedelta(days=1), NOW)


@pytest.fixture
async def hub(live: LiveServer) -> AsyncIterator[Hub]:
    client = new_client(live.url)
    yield Hub(live, await signup(client, workspace="Window"))
    await client.aclose()


async def test_the_window_follows_the_last_inbound_message_in_the_database(hub: Hub) -> None:
    channel_id = await hub.channel("whatsapp", phone_number_id=unique("10"))
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=unique("4917"))
    assert (await post_meta(hub, channel_id, data)).status_code == 200
    [inbound] = await hub.messages(channel_id)
    services = hub.services
    await check_reply_window_by_id(services, inbound.conversation_id)  # just wrote: open
    await check_reply_window_by_id(services, "cv_unknown")  # the accept path answers 404
    later = datetime.now(UTC) + timedelta(hours=25)
    with pytest.raises(ApiError) as refused:
        await check_reply_window_by_id(services, inbound.conversation_id, later)
    assert refused.value.code == "window_closed"
    # Our own reply does not reopen it; a new inbound message does.
    reply = await hub.owner.post(
        f"/api/conversations/{inbound.conversation_id}/messages", json={"text": "hi"}
    )
    assert reply.status_code == 201
    async with services.db() as db:
        await db.execute(
            update(m.Conversation)
            .where(m.Conversation.id == inbound.conversation_id)
            .values(last_inbound_at=datetime.now(UTC) - timedelta(days=2))
        )
        await db.commit()
    with pytest.raises(ApiError):
        await check_reply_window_by_id(services, inbound.conversation_id)
    again = wa_message(
        "wa_text.json",
        wamid=unique("wamid."),
        sender=data["entry"][0]["changes"][0]["value"]["messages"][0]["from"],
    )
    assert (await post_meta(hub, channel_id, again)).status_code == 200
    await check_reply_window_by_id(services, inbound.conversation_id)
