"""The Studio ``book`` step on WhatsApp, end to end (issue 17): a fake Graph API and a fake
Google Calendar on loopback (``INVIARO_PROVIDER_ORIGINS``). The free slots arrive as reply
buttons, a tap books exactly one event and one booking row, and the confirmation goes back
through WhatsApp."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from storage import models as m
from tests.web.fake_calendars import CLIENTS, FakeCalendars
from tests.web.test_calendars import booking_type, connect, publish_book_flow
from tests.web.test_flow_channels import Graph, conversation_on, deliver, tap, text, unpublish_all
from tests.web.webhook_hub import PHONE_NUMBER_ID, Hub, hub_server, send_due, unique


@pytest.fixture(scope="module")
async def calendars() -> AsyncIterator[FakeCalendars]:
    async with FakeCalendars().serving() as fake:
        yield fake


@pytest.fixture(autouse=True)
def no_events_yet(calendars: FakeCalendars) -> None:
    calendars.events.clear()


@pytest.fixture(scope="module")
async def graph() -> AsyncIterator[Graph]:
    async with Graph().serving() as serving:
        yield serving


@pytest.fixture(scope="module")
async def hub(db_url: str, calendars: FakeCalendars, graph: Graph) -> AsyncIterator[Hub]:
    origins = (
        *calendars.origins_setting,
        ("https://graph.facebook.com", f"http://127.0.0.1:{graph.port}"),
    )
    async with hub_server(
        db_url,
        provider_origins=origins,
        google_client_id=CLIENTS["google"][0],
        google_client_secret=CLIENTS["google"][1],
    ) as started:
        yield started


async def test_a_book_step_on_whatsapp_creates_exactly_one_event_and_one_booking_row(
    hub: Hub, graph: Graph, calendars: FakeCalendars
) -> None:
    await unpublish_all(hub)
    calendar = await connect(hub.owner, calendars)
    bt = await booking_type(hub.owner, calendar["id"])
    await publish_book_flow(hub.owner, bt["id"])
    channel = await hub.channel("whatsapp", phone_number_id=PHONE_NUMBER_ID)
    sender = unique("4917")

    (offer,) = await deliver(hub, graph, channel, text(sender, "An appointment, please"))
    assert offer["type"] == "interactive"
    assert offer["interactive"]["body"]["text"] == "When would you like to come?"
    buttons = offer["interactive"]["action"]["buttons"]
    assert [b["reply"]["id"] for b in buttons] == ["1", "2", "3"]
    picked = buttons[1]["reply"]

    before = len(graph.sent)
    await deliver(hub, graph, channel, tap(sender, picked["id"], picked["title"]))
    await hub.services.flow_runner.idle()
    await send_due(hub)
    sent = [s for s in graph.sent[before:] if s.get("to") == sender]
    assert [s["text"]["body"] for s in sent] == [
        f"You are booked for {picked['title']}.",
        "See you then!",
    ]

    [event] = calendars.events.values()
    conversation_id = await conversation_on(hub, channel)
    async with hub.services.db() as db:
        rows = list(
            await db.scalars(select(m.Booking).where(m.Booking.conversation_id == conversation_id))
        )
    [row] = rows
    assert row.status == "confirmed" and row.provider_event_id in calendars.events
    assert row.starts_at.replace(tzinfo=None) == event["start"].replace(tzinfo=None)
