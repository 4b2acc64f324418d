"""Calendars in the browser (issue 17), against a fake Google on loopback: Settings →
Calendars connects through the real redirect flow, adds a booking type and disconnects;
the contact panel's Book action books a slot (one event), moves it (the event follows) and
cancels it (event gone).

The browser's visit to Google's authorization page is answered by the fake (Playwright
routes ``accounts.google.com`` to it); every call the hub makes goes there through
``INVIARO_PROVIDER_ORIGINS``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.conftest import LiveServer, make_settings, start_server
from tests.helpers import Account, new_client, signup
from tests.web.fake_calendars import CLIENTS, FakeCalendars
from tests.web.test_ai import conversation
from tests.web.test_calendars import booking_type, connect
from web.auth.sessions import cookie_name

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeCalendars]:
    async with FakeCalendars().serving() as fake:
        yield fake


@pytest.fixture(autouse=True)
def no_events_yet(fake: FakeCalendars) -> None:
    fake.events.clear()


@pytest.fixture(scope="module")
async def cal_live(db_url: str, fake: FakeCalendars) -> AsyncIterator[LiveServer]:
    settings = make_settings(
        db_url,
        provider_origins=fake.origins_setting,
        google_client_id=CLIENTS["google"][0],
        google_client_secret=CLIENTS["google"][1],
    )
    live, server, task = await start_server(settings)
    yield live
    server.should_exit = True
    await task


@pytest.fixture
async def owner(cal_live: LiveServer, context: Any) -> AsyncIterator[Account]:
    async with new_client(cal_live.url) as http:
        account = await signup(http)
        name = cookie_name(cal_live.settings)
        await context.add_cookies(
            [{"name": name, "value": http.cookies[name], "url": cal_live.url}]
        )
        yield account


async def google_answers_from_the_fake(context: Any, fake: FakeCalendars) -> None:
    """The browser's visit to Google's authorization page goes to the fake instead; its
    redirect back to the hub is handed to the browser as is."""
    google = "https://accounts.google.com"

    async def handle(route: Any) -> None:
        url = route.request.url.replace(google, fake.origins[google], 1)
        async with httpx.AsyncClient() as client:
            answer = await client.get(url)
        await route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=b"")

    await context.route(f"{google}/**", handle)


async def test_settings_connect_a_google_calendar_add_a_booking_type_and_disconnect(
    owner: Account, cal_live: LiveServer, fake: FakeCalendars, context: Any
) -> None:
    await google_answers_from_the_fake(context, fake)
    page, watch = await open_page(context, f"{cal_live.url}/settings?tab=calendars")
    await page.get_by_role("button", name="Connect Google Calendar").click()
    await expect(page).to_have_url(f"{cal_live.url}/settings?tab=calendars")
    card = page.locator("#calendars-list article")
    await expect(card).to_have_count(1)
    await expect(card.locator("p.ok")).to_have_text("Connected")

    form = page.locator("#booking-type-form")
    await form.locator('input[name="name"]').fill("Consultation")
    await form.locator('input[name="timezone"]').fill("Europe/Berlin")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#booking-types-list")).to_contain_text("Consultation")
    types = (await owner.get("/api/booking-types")).json()["items"]
    assert [t["name"] for t in types] == ["Consultation"]

    revoked = len(fake.revoked)
    page.once("dialog", lambda dialog: dialog.accept())
    await card.get_by_role("button", name="Disconnect").click()
    await expect(card.locator("p.warning")).to_contain_text("Disconnected")
    assert len(fake.revoked) == revoked + 1
    assert watch.errors == []


async def test_the_contact_panel_books_a_slot_moves_it_and_cancels_it(
    owner: Account, cal_live: LiveServer, fake: FakeCalendars, context: Any
) -> None:
    calendar = await connect(owner, fake)
    await booking_type(owner, calendar["id"])
    ids = await conversation(owner, "Can I come in next week?")
    page, watch = await open_page(context, f"{cal_live.url}/inbox#{ids['id']}")
    form = page.locator("#book-form")
    await expect(form).to_be_visible()
    await expect(form.locator('select[name="start"] option').first).not_to_have_attribute(
        "value", ""
    )
    await form.get_by_role("button", name="Book").click()
    bookings = page.locator("#contact-bookings li")
    await expect(bookings).to_contain_text(["confirmed"])
    [event] = fake.events.values()
    booked_at = event["start"]

    await form.locator('select[name="start"]').select_option(index=2)
    await bookings.get_by_role("button", name="Move to chosen time").click()
    await expect(page.locator(".toast.ok").last).to_contain_text("Booking moved")
    [moved] = fake.events.values()
    assert moved["start"] != booked_at

    page.once("dialog", lambda dialog: dialog.accept())
    await bookings.get_by_role("button", name="Cancel").click()
    await expect(bookings).to_contain_text(["cancelled"])
    assert fake.events == {}
    assert watch.errors == []
