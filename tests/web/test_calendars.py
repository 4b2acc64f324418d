"""Calendar booking end to end, against fake Google and Microsoft servers on loopback.

The hub reaches the fakes through ``INVIARO_PROVIDER_ORIGINS``; the operator's browser is
an httpx client that follows the OAuth redirect through the fake's authorization page
(which checks the PKCE challenge) back to the hub's callback.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.ids import new_id
from hub.model import Author, Inbound, rfc3339
from storage import models as m
from storage.db import make_engine, sessionmaker
from storage.store import SqlStore
from tests.conftest import SECRET, LiveServer, make_settings, start_server
from tests.helpers import Account, new_client, signup
from tests.web.fake_calendars import CLIENTS, FakeCalendars
from tests.web.realtime import close_all_sockets, widget_channel
from tests.web.test_flow_runs import eventually, publish, runs, visitor
from web.provider_origins import RewritingTransport

ALL_DAY_UTC = {
    "timezone": "UTC",
    "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeCalendars]:
    async with FakeCalendars().serving() as fake:
        yield fake


@pytest.fixture(autouse=True)
def clean_fake(fake: FakeCalendars) -> None:
    fake.busy = {"google": [], "microsoft": []}
    fake.events.clear()
    fake.unreadable = False
    fake.refused_refresh = False
    fake.expires_in = 3599
    fake.failures = []


@pytest.fixture(scope="module")
async def hub(db_url: str, fake: FakeCalendars) -> AsyncIterator[LiveServer]:
    settings = make_settings(
        db_url,
        provider_origins=fake.origins_setting,
        google_client_id=CLIENTS["google"][0],
        google_client_secret=CLIENTS["google"][1],
        microsoft_client_id=CLIENTS["microsoft"][0],
        microsoft_client_secret=CLIENTS["microsoft"][1],
    )
    live, server, task = await start_server(settings)
    yield live
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def engine(hub: LiveServer) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(hub.settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def owner(hub: LiveServer) -> AsyncIterator[Account]:
    async with new_client(hub.url) as client:
        yield await signup(client)


async def authorize(owner: Account, fake: FakeCalendars, provider: str) -> str:
    """Start connecting; the fake's authorization page answers with the hub's callback URL."""
    response = await owner.post("/api/calendars/connect", {"provider": provider})
    assert response.status_code == 200, response.text
    transport = RewritingTransport(fake.origins, httpx.AsyncHTTPTransport())
    async with httpx.AsyncClient(transport=transport) as browser:
        answer = await browser.get(response.json()["authorize_url"])
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def connect(owner: Account, fake: FakeCalendars, provider: str = "google") -> dict[str, Any]:
    back = await owner.client.get(await authorize(owner, fake, provider))
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/settings?tab=calendars"
    [item] = [
        c for c in (await owner.get("/api/calendars")).json()["items"] if c["status"] == "connected"
    ]
    return item  # type: ignore[no-any-return]


async def booking_type(owner: Account, calendar_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Check-up",
        "duration_minutes": 30,
        "calendar_id": calendar_id,
        "hours": ALL_DAY_UTC,
        **fields,
    }
    response = await owner.post("/api/booking-types", body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def conversation(
    engine: AsyncEngine, workspace_id: str, name: str = "Anna"
) -> tuple[str, str]:
    """A contact writing in on WhatsApp: (conversation id, contact id)."""
    channel_id = new_id("ch_")
    async with sessionmaker(engine)() as session, session.begin():
        session.add(m.Channel(id=channel_id, workspace_id=workspace_id, kind="whatsapp", name="WA"))
    store = SqlStore(engine)
    try:
        written = await store.write(
            Inbound(
                workspace_id=workspace_id,
                channel_id=channel_id,
                direction="in",
                author=Author("contact", None, name),
                text="Can I come next week?",
                contact_external_id=new_id("+49"),
                contact_name=name,
            )
        )
    finally:
        await store.close()
    conv_id = written.message.conversation_id
    async with engine.connect() as conn:
        contact_id = await conn.scalar(
            select(m.Conversation.contact_id).where(m.Conversation.id == conv_id)
        )
    return conv_id, str(contact_id)


def day(offset: int) -> datetime:
    """Midnight UTC ``offset`` days from today."""
    return datetime.combine(datetime.now(UTC).date() + timedelta(days=offset), time(), tzinfo=UTC)


def at(offset: int, hour: int, minute: int = 0) -> datetime:
    return day(offset) + timedelta(hours=hour, minutes=minute)


def z(moment: datetime) -> str:
    return rfc3339(moment.astimezone(UTC))


async def slot_starts(owner: Account, bt_id: str, start: datetime, end: datetime) -> list[str]:
    response = await owner.get(
        f"/api/booking-types/{bt_id}/slots", params={"from": z(start), "to": z(end)}
    )
    assert response.status_code == 200, response.text
    return [s["start"] for s in response.json()["items"]]


async def bookings_of(engine: AsyncEngine, contact_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            await conn.execute(
                select(m.Booking.__table__).where(m.Booking.contact_id == contact_id)
            )
        )


async def audit_actions(engine: AsyncEngine, workspace_id: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(m.AuditEntry.action)
            .where(m.AuditEntry.workspace_id == workspace_id)
            .order_by(m.AuditEntry.at)
        )
        return [r.action for r in rows]


# Connecting -------------------------------------------------------------------------------


async def test_connecting_without_oauth_client_settings_is_refused_naming_them(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    response = await account.post("/api/calendars/connect", {"provider": "google"})
    assert response.status_code == 422
    assert "INVIARO_GOOGLE_CLIENT_ID" in response.json()["detail"]


@pytest.mark.parametrize("provider", ["google", "microsoft"])
async def test_connecting_through_the_redirect_flow_stores_the_connection_encrypted(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine, provider: str
) -> None:
    checked = fake.pkce_checked
    item = await connect(owner, fake, provider)
    assert fake.pkce_checked == checked + 1
    assert item["provider"] == provider
    assert item["account"] == ("ada@example.com" if provider == "google" else "ada@contoso.com")
    async with engine.connect() as conn:
        sealed = await conn.scalar(
            select(m.CalendarConnection.tokens).where(m.CalendarConnection.id == item["id"])
        )
    assert sealed and not any(token in sealed for token in fake.access)
    assert "calendar_connected" in await audit_actions(engine, owner.workspace_id)


async def test_a_reused_state_shows_a_message_and_stores_nothing(
    owner: Account, fake: FakeCalendars
) -> None:
    location = await authorize(owner, fake, "google")
    assert (await owner.client.get(location)).status_code == 303
    again = await owner.client.get(location)
    assert again.status_code == 400
    assert "already used" in again.text
    assert len((await owner.get("/api/calendars")).json()["items"]) == 1


async def test_a_wrong_state_or_another_session_is_refused_and_stores_nothing(
    owner: Account, fake: FakeCalendars, hub: LiveServer
) -> None:
    location = await authorize(owner, fake, "google")
    wrong = location.replace("state=", "state=x")
    assert (await owner.client.get(wrong)).status_code == 400
    async with new_client(hub.url) as other_browser:
        await signup(other_browser)
        stolen = await other_browser.get(location)
    assert stolen.status_code == 400
    assert "another session" in stolen.text
    assert (await owner.get("/api/calendars")).json()["items"] == []


async def test_an_error_from_the_provider_shows_a_message_and_stores_nothing(
    owner: Account, fake: FakeCalendars
) -> None:
    response = await owner.post("/api/calendars/connect", {"provider": "microsoft"})
    state = parse_qs(urlsplit(response.json()["authorize_url"]).query)["state"][0]
    answer = await owner.client.get(
        "/oauth/microsoft/callback",
        params={"error": "access_denied", "error_description": "The user declined", "state": state},
    )
    assert answer.status_code == 400
    assert "The user declined" in answer.text
    assert (await owner.get("/api/calendars")).json()["items"] == []


# Booking types and slots ------------------------------------------------------------------


async def test_a_booking_type_answers_every_bad_field_at_once(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    body = {
        "name": "",
        "duration_minutes": 1,
        "calendar_id": calendar["id"],
        "hours": {"timezone": "Mars/Olympus", "weekly": {}},
    }
    response = await owner.post("/api/booking-types", body)
    assert response.status_code == 422
    fields = [p["field"] for p in response.json()["problems"]]
    assert fields == ["name", "duration_minutes", "hours"]


async def test_booking_types_are_validated_with_a_sentence(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    base = {
        "name": "Visit",
        "duration_minutes": 30,
        "calendar_id": calendar["id"],
        "hours": ALL_DAY_UTC,
    }
    bad_zone = {**base, "hours": {"timezone": "Mars/Olympus", "weekly": {}}}
    for body in (bad_zone, {**base, "duration_minutes": 0}, {**base, "calendar_id": "cal_nope"}):
        response = await owner.post("/api/booking-types", body)
        assert response.status_code == 422
        assert response.json()["error"] == "invalid"
    bt = await booking_type(owner, calendar["id"])
    assert (await owner.patch(f"/api/booking-types/{bt['id']}", {"name": "Cleaning"})).json()[
        "name"
    ] == "Cleaning"
    assert (await owner.delete(f"/api/booking-types/{bt['id']}")).status_code == 204
    assert (await owner.get(f"/api/booking-types/{bt['id']}")).status_code == 404


async def test_slots_exclude_busy_time_widened_by_the_buffers(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(
        owner, calendar["id"], buffer_before_minutes=15, buffer_after_minutes=15
    )
    fake.busy["google"].append((at(7, 10), at(7, 11)))
    starts = await slot_starts(owner, bt["id"], at(7, 9), at(7, 13))
    assert starts == [z(at(7, 9)), z(at(7, 11, 30)), z(at(7, 12)), z(at(7, 12, 30))]


async def test_microsoft_slots_exclude_busy_time_from_get_schedule(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake, "microsoft")
    bt = await booking_type(owner, calendar["id"], duration_minutes=60)
    fake.busy["microsoft"].append((at(7, 10), at(7, 11)))
    starts = await slot_starts(owner, bt["id"], at(7, 9), at(7, 13))
    assert starts == [z(at(7, 9)), z(at(7, 11)), z(at(7, 12))]


async def test_slots_respect_minimum_notice_and_days_ahead(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"], min_notice_minutes=2 * 24 * 60, days_ahead=4)
    now = datetime.now(UTC)
    starts = [
        datetime.fromisoformat(s) for s in await slot_starts(owner, bt["id"], day(0), day(10))
    ]
    assert starts
    assert min(starts) >= now + timedelta(days=2)
    assert max(starts) + timedelta(minutes=30) <= now + timedelta(days=4, minutes=1)


async def test_slots_follow_the_booking_types_time_zone(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    new_york = ZoneInfo("America/New_York")
    hours = {
        "timezone": "America/New_York",
        "weekly": {d: [["09:00", "10:00"]] for d in ALL_DAY_UTC["weekly"]},
    }
    bt = await booking_type(owner, calendar["id"], duration_minutes=60, hours=hours)
    local_day = (day(7)).date()
    expected = datetime.combine(local_day, time(9), tzinfo=new_york)
    starts = await slot_starts(
        owner, bt["id"], expected - timedelta(hours=12), expected + timedelta(hours=12)
    )
    assert starts == [z(expected)]


def test_weekly_hours_keep_the_wall_clock_across_a_dst_change() -> None:
    from web.booking import candidate_slots

    hours = {
        "timezone": "Europe/Berlin",
        "weekly": {d: [["09:00", "10:00"]] for d in ("sat", "sun", "mon")},
    }
    bt = m.BookingType(duration_minutes=60, hours=hours)
    slots = candidate_slots(
        bt, datetime(2027, 3, 27, tzinfo=UTC), datetime(2027, 3, 30, tzinfo=UTC)
    )
    # Berlin moves from UTC+1 to UTC+2 on Sunday 28 March 2027: 09:00 local stays 09:00.
    assert [s.start for s in slots] == [
        datetime(2027, 3, 27, 8, tzinfo=UTC),
        datetime(2027, 3, 28, 7, tzinfo=UTC),
        datetime(2027, 3, 29, 7, tzinfo=UTC),
    ]


async def test_an_unreadable_calendar_offers_no_slots_and_says_so(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    fake.unreadable = True
    response = await owner.get(
        f"/api/booking-types/{bt['id']}/slots", params={"from": z(at(7, 9)), "to": z(at(7, 13))}
    )
    assert response.status_code == 503
    assert response.json()["error"] == "calendar_unavailable"
    assert "could not be read" in response.json()["detail"]


# Booking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["google", "microsoft"])
async def test_booking_from_a_conversation_creates_one_event_and_one_row(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine, provider: str
) -> None:
    calendar = await connect(owner, fake, provider)
    bt = await booking_type(owner, calendar["id"])
    conv_id, contact_id = await conversation(engine, owner.workspace_id)
    response = await owner.post(
        f"/api/conversations/{conv_id}/bookings",
        {"booking_type_id": bt["id"], "start": z(at(7, 9))},
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["status"] == "confirmed" and made["contact_id"] == contact_id
    assert made["starts_at"] == z(at(7, 9)) and made["ends_at"] == z(at(7, 9, 30))
    [event] = fake.events.values()
    assert event["start"] == at(7, 9) and event["summary"] == "Check-up – Anna"
    assert made["provider_event_id"] in fake.events
    assert len(await bookings_of(engine, contact_id)) == 1
    assert z(at(7, 9)) not in await slot_starts(owner, bt["id"], at(7, 9), at(7, 11))


async def test_two_contacts_racing_for_one_slot_get_one_event(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    first, _ = await conversation(engine, owner.workspace_id, "Anna")
    second, _ = await conversation(engine, owner.workspace_id, "Ben")
    body = {"booking_type_id": bt["id"], "start": z(at(8, 10))}
    answers = await asyncio.gather(
        owner.post(f"/api/conversations/{first}/bookings", body),
        owner.post(f"/api/conversations/{second}/bookings", body),
    )
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert [a.json()["error"] for a in answers if a.status_code == 409] == ["slot_taken"]
    assert len(fake.events) == 1


async def test_a_slot_in_the_past_outside_hours_or_taken_is_refused_with_a_sentence(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    conv_id, _ = await conversation(engine, owner.workspace_id)
    url = f"/api/conversations/{conv_id}/bookings"
    past = await owner.post(url, {"booking_type_id": bt["id"], "start": z(at(-1, 10))})
    assert (past.status_code, past.json()["error"]) == (422, "slot_unavailable")
    assert "past" in past.json()["detail"]
    for start in (at(7, 8), at(7, 9, 10)):
        outside = await owner.post(url, {"booking_type_id": bt["id"], "start": z(start)})
        assert outside.status_code == 422 and "outside" in outside.json()["detail"]
    fake.busy["google"].append((at(7, 9), at(7, 10)))
    taken = await owner.post(url, {"booking_type_id": bt["id"], "start": z(at(7, 9))})
    assert (taken.status_code, taken.json()["error"]) == (409, "slot_taken")
    assert fake.events == {}


async def test_reschedule_moves_and_cancel_deletes_the_providers_event(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    conv_id, contact_id = await conversation(engine, owner.workspace_id)
    made = (
        await owner.post(
            f"/api/conversations/{conv_id}/bookings",
            {"booking_type_id": bt["id"], "start": z(at(7, 9))},
        )
    ).json()
    moved = await owner.patch(f"/api/bookings/{made['id']}", {"start": z(at(7, 9, 30))})
    assert moved.status_code == 200, moved.text
    assert moved.json()["starts_at"] == z(at(7, 9, 30))
    assert fake.events[made["provider_event_id"]]["start"] == at(7, 9, 30)
    assert (await owner.delete(f"/api/bookings/{made['id']}")).status_code == 204
    assert fake.events == {}
    [row] = await bookings_of(engine, contact_id)
    assert row.status == "cancelled"
    listed = (await owner.get(f"/api/contacts/{contact_id}/bookings")).json()["items"]
    assert [b["status"] for b in listed] == ["cancelled"]


async def test_a_401_refreshes_the_token_once_and_retries(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    fake.expire_access_tokens()
    refreshes = fake.refreshes
    assert await slot_starts(owner, bt["id"], at(7, 9), at(7, 10)) == [z(at(7, 9)), z(at(7, 9, 30))]
    assert fake.refreshes == refreshes + 1


async def test_a_token_about_to_expire_is_refreshed_before_the_call(
    owner: Account, fake: FakeCalendars
) -> None:
    fake.expires_in = 30  # inside the minute before expiry: refresh first
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    refreshes, unauthorized = fake.refreshes, fake.unauthorized
    assert await slot_starts(owner, bt["id"], at(7, 9), at(7, 10)) == [z(at(7, 9)), z(at(7, 9, 30))]
    assert fake.refreshes == refreshes + 1
    assert fake.unauthorized == unauthorized


async def test_throttling_and_server_errors_are_retried_after_a_pause(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    fake.failures = [429, 503]
    assert await slot_starts(owner, bt["id"], at(7, 9), at(7, 10)) == [z(at(7, 9)), z(at(7, 9, 30))]
    assert fake.failures == []
    fake.failures = [503, 503, 503]
    response = await owner.get(
        f"/api/booking-types/{bt['id']}/slots", params={"from": z(at(7, 9)), "to": z(at(7, 10))}
    )
    assert (response.status_code, response.json()["error"]) == (503, "calendar_unavailable")


async def test_the_book_step_is_offered_the_next_free_slots_in_the_contacts_zone(
    owner: Account, fake: FakeCalendars, hub: LiveServer
) -> None:
    from web.booking import offer_slots

    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"], duration_minutes=60)
    fake.busy["google"].append((at(7, 9), at(7, 10)))
    services = hub.app.state.services  # type: ignore[attr-defined]
    offers = await offer_slots(
        services, owner.workspace_id, bt["id"], count=2, time_zone="Asia/Tokyo", now=at(6, 23)
    )
    assert [o.start for o in offers] == [at(7, 10), at(7, 11)]
    tokyo = at(7, 10).astimezone(ZoneInfo("Asia/Tokyo"))
    assert offers[0].label == f"{tokyo:%a} {tokyo.day} {tokyo:%b}, 19:00"


async def test_a_refused_refresh_marks_the_calendar_broken_and_stops_bookings(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    conv_id, _ = await conversation(engine, owner.workspace_id)
    before = (
        REGISTRY.get_sample_value(
            "inviaro_calendar_connections_broken_total", {"provider": "google"}
        )
        or 0
    )
    fake.expire_access_tokens()
    fake.refused_refresh = True
    slots = await owner.get(
        f"/api/booking-types/{bt['id']}/slots", params={"from": z(at(7, 9)), "to": z(at(7, 10))}
    )
    assert slots.status_code == 503
    [item] = (await owner.get("/api/calendars")).json()["items"]
    assert item["status"] == "broken"
    assert (
        REGISTRY.get_sample_value(
            "inviaro_calendar_connections_broken_total", {"provider": "google"}
        )
        == before + 1
    )
    calls = fake.provider_calls()
    booked = await owner.post(
        f"/api/conversations/{conv_id}/bookings",
        {"booking_type_id": bt["id"], "start": z(at(7, 9))},
    )
    assert booked.status_code == 503
    assert fake.provider_calls() == calls


# Disconnect and purge -------------------------------------------------------------------


async def book(
    owner: Account, engine: AsyncEngine, bt_id: str, start: datetime
) -> tuple[dict[str, Any], str]:
    conv_id, contact_id = await conversation(engine, owner.workspace_id)
    response = await owner.post(
        f"/api/conversations/{conv_id}/bookings", {"booking_type_id": bt_id, "start": z(start)}
    )
    assert response.status_code == 201, response.text
    return response.json(), contact_id


async def test_disconnect_revokes_the_token_and_no_provider_call_follows(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    made, _ = await book(owner, engine, bt["id"], at(7, 9))
    revoked = len(fake.revoked)
    assert (await owner.delete(f"/api/calendars/{calendar['id']}")).status_code == 204
    assert len(fake.revoked) == revoked + 1 and fake.revoked[-1].startswith("rt-")
    calls = fake.provider_calls()
    conv_id, _ = await conversation(engine, owner.workspace_id)
    slots = await owner.get(
        f"/api/booking-types/{bt['id']}/slots", params={"from": z(at(7, 9)), "to": z(at(7, 12))}
    )
    assert slots.status_code == 503
    booked = await owner.post(
        f"/api/conversations/{conv_id}/bookings",
        {"booking_type_id": bt["id"], "start": z(at(7, 11))},
    )
    assert booked.status_code == 503
    assert (
        await owner.patch(f"/api/bookings/{made['id']}", {"start": z(at(7, 10))})
    ).status_code == 503
    assert (await owner.delete(f"/api/bookings/{made['id']}")).status_code == 204
    assert fake.provider_calls() == calls
    [item] = (await owner.get("/api/calendars")).json()["items"]
    assert item["status"] == "disconnected" and item["disconnected_at"]
    async with engine.connect() as conn:
        tokens = await conn.scalar(
            select(m.CalendarConnection.tokens).where(m.CalendarConnection.id == calendar["id"])
        )
    assert tokens is None
    assert "calendar_disconnected" in await audit_actions(engine, owner.workspace_id)


async def test_disconnecting_microsoft_says_where_to_remove_the_consent(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake, "microsoft")
    revoked = len(fake.revoked)
    assert (await owner.delete(f"/api/calendars/{calendar['id']}")).status_code == 204
    assert len(fake.revoked) == revoked
    [item] = (await owner.get("/api/calendars")).json()["items"]
    assert "myapplications.microsoft.com" in item["note"]


def purge(db_url: str, tmp_path: Path, as_of: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "purge", "--as-of", as_of],
        env={"DATABASE_URL": db_url, "INVIARO_SECRET_KEY": SECRET, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


async def test_cached_booking_data_is_kept_29_days_after_disconnecting_and_gone_at_30(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine, hub: LiveServer, tmp_path: Path
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    _, contact_id = await book(owner, engine, bt["id"], at(7, 9))
    assert (await owner.delete(f"/api/calendars/{calendar['id']}")).status_code == 204
    # Disconnected long ago, so a purge "as of" then touches nothing else in this database.
    async with engine.begin() as conn:
        await conn.execute(
            update(m.CalendarConnection)
            .where(m.CalendarConnection.id == calendar["id"])
            .values(disconnected_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    purge(hub.settings.database_url, tmp_path, "2020-01-30T00:00:00Z")
    assert len(await bookings_of(engine, contact_id)) == 1
    purge(hub.settings.database_url, tmp_path, "2020-01-31T00:00:00Z")
    assert await bookings_of(engine, contact_id) == []
    assert "calendar_data_purged" in await audit_actions(engine, owner.workspace_id)


async def test_cached_booking_data_can_be_removed_at_once_after_disconnecting(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    _, contact_id = await book(owner, engine, bt["id"], at(7, 9))
    early = await owner.post(f"/api/calendars/{calendar['id']}/purge")
    assert early.status_code == 409
    assert (await owner.delete(f"/api/calendars/{calendar['id']}")).status_code == 204
    now = await owner.post(f"/api/calendars/{calendar['id']}/purge")
    assert now.json() == {"removed": 1}
    assert await bookings_of(engine, contact_id) == []
    assert "calendar_data_purged" in await audit_actions(engine, owner.workspace_id)


async def test_contact_export_and_erasure_include_bookings(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    made, contact_id = await book(owner, engine, bt["id"], at(7, 9))
    exported = (await owner.get(f"/api/contacts/{contact_id}/export")).json()
    assert [b["id"] for b in exported["bookings"]] == [made["id"]]
    assert exported["bookings"][0]["summary"] == "Check-up – Anna"
    assert (await owner.delete(f"/api/contacts/{contact_id}")).status_code == 204
    assert fake.events == {}
    assert await bookings_of(engine, contact_id) == []


# The Studio book step ------------------------------------------------------------------------


@pytest.fixture
async def widget_visitor(owner: Account) -> AsyncIterator[Any]:
    """A factory of widget visitors on one widget channel; their sockets close afterwards."""
    widget = await widget_channel(owner)
    yield lambda: visitor(owner, widget)
    await close_all_sockets()


async def publish_book_flow(owner: Account, bt_id: str) -> None:
    steps = {
        "slot": {
            "type": "book",
            "booking_type_id": bt_id,
            "text": "When would you like to come?",
            "next": "bye",
            "on_none": "sorry",
        },
        "bye": {"type": "send", "text": "See you then!"},
        "sorry": {"type": "handoff"},
    }
    await publish(owner, steps, "slot")


async def steps_of(owner: Account, conversation_id: str) -> list[str]:
    [run] = await runs(owner, conversation_id)
    return [s["outcome"] for s in run["steps"]]


async def test_a_widget_visitor_books_a_slot_through_a_flow(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine, widget_visitor: Any
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    await publish_book_flow(owner, bt["id"])
    v = await widget_visitor()
    await v.say("I would like an appointment")
    offer = await v.bot()
    assert offer["text"] == "When would you like to come?"
    assert [o["value"] for o in offer["options"]] == ["1", "2", "3"]
    picked = offer["options"][1]
    await v.say(picked["label"], picked["value"])
    assert (await v.bot())["text"] == f"You are booked for {picked['label']}."
    assert (await v.bot())["text"] == "See you then!"
    [event] = fake.events.values()
    conv = (await owner.get(f"/api/conversations/{v.conversation_id}")).json()
    [row] = await bookings_of(engine, conv["contact"]["id"])
    assert row.provider_event_id in fake.events and row.status == "confirmed"
    assert row.conversation_id == v.conversation_id
    start = event["start"]
    assert picked["label"] == f"{start:%a} {start.day} {start:%b}, {start:%H:%M}"  # UTC hours
    assert f"booked {picked['label']}" in await steps_of(owner, v.conversation_id)


async def test_the_slots_are_offered_and_confirmed_in_the_contacts_time_zone(
    owner: Account, fake: FakeCalendars, widget_visitor: Any
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    steps = {
        "zone": {
            "type": "set",
            "save_as": "contact.attributes.timezone",
            "value": "Asia/Tokyo",
            "next": "slot",
        },
        "slot": {"type": "book", "booking_type_id": bt["id"], "next": "end", "on_none": "end"},
        "end": {"type": "end"},
    }
    await publish(owner, steps, "zone")
    v = await widget_visitor()
    await v.say("hi")
    offer = await v.bot()
    assert offer["text"] == "Which time suits you?"
    await v.say("1")
    confirmed = await v.bot()
    [event] = fake.events.values()
    tokyo = event["start"].astimezone(ZoneInfo("Asia/Tokyo"))
    label = f"{tokyo:%a} {tokyo.day} {tokyo:%b}, {tokyo:%H:%M}"
    assert offer["options"][0]["label"] == label
    assert confirmed["text"] == f"You are booked for {label}."


async def publish_change_flow(owner: Account, bt_id: str, action: str) -> None:
    steps = {
        "change": {
            "type": "book",
            "action": action,
            "booking_type_id": bt_id,
            "text": "When would you like to come instead?" if action == "reschedule" else None,
            "next": "bye",
            "on_none": "sorry",
        },
        "bye": {"type": "send", "text": "Anything else?"},
        "sorry": {"type": "handoff"},
    }
    if action == "cancel":
        del steps["change"]["text"]
    # The contact's words start it: the conversation began before, with the booking.
    await publish(owner, steps, "change", on="message", keywords=["move", "cancel"])


async def booked_for(owner: Account, conversation_id: str, bt_id: str, start: datetime) -> Any:
    made = await owner.post(
        f"/api/conversations/{conversation_id}/bookings",
        {"booking_type_id": bt_id, "start": z(start)},
    )
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_contact_reschedules_by_reply_and_the_providers_event_moves(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine, widget_visitor: Any
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    v = await widget_visitor()
    await v.say("Hello")  # nothing is stored before the visitor's first message
    made = await booked_for(owner, v.conversation_id, bt["id"], at(7, 9))
    await publish_change_flow(owner, bt["id"], "reschedule")
    await v.say("I need to move my appointment")
    offer = await v.bot()
    assert offer["text"] == "When would you like to come instead?"
    picked = offer["options"][0]
    await v.say(picked["label"], picked["value"])
    assert (await v.bot())["text"] == f"Your booking is moved to {picked['label']}."
    [event] = fake.events.values()
    assert event["start"] != at(7, 9)
    conv = (await owner.get(f"/api/conversations/{v.conversation_id}")).json()
    [row] = await bookings_of(engine, conv["contact"]["id"])
    assert row.id == made["id"] and row.status == "confirmed"
    assert row.provider_event_id == made["provider_event_id"]
    assert f"moved the booking to {picked['label']}" in await steps_of(owner, v.conversation_id)


async def test_a_contact_cancels_by_reply_and_the_providers_event_is_deleted(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine, widget_visitor: Any
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    v = await widget_visitor()
    await v.say("Hello")  # nothing is stored before the visitor's first message
    await booked_for(owner, v.conversation_id, bt["id"], at(7, 9))
    await publish_change_flow(owner, bt["id"], "cancel")
    await v.say("Please cancel my appointment")
    confirmation = await v.bot()
    assert confirmation["text"].startswith("Your booking for ")
    assert confirmation["text"].endswith(" is cancelled.")
    assert fake.events == {}
    conv = (await owner.get(f"/api/conversations/{v.conversation_id}")).json()
    [row] = await bookings_of(engine, conv["contact"]["id"])
    assert row.status == "cancelled"


async def test_cancelling_by_reply_without_a_booking_takes_on_none(
    owner: Account, fake: FakeCalendars, widget_visitor: Any
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    await publish_change_flow(owner, bt["id"], "cancel")
    v = await widget_visitor()
    await v.say("cancel")
    done = await eventually(lambda: _finished(owner, v.conversation_id))
    assert done["status"] == "handed_off"
    assert "not cancelled: there is no booking to cancel" in [s["outcome"] for s in done["steps"]]


async def test_no_free_slot_takes_on_none(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine, widget_visitor: Any
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"], days_ahead=2)
    fake.busy["google"].append((day(-1), day(4)))
    await publish_book_flow(owner, bt["id"])
    v = await widget_visitor()
    await v.say("hi")
    done = await eventually(lambda: _finished(owner, v.conversation_id), timeout=10.0)
    assert done["status"] == "handed_off"
    assert [s["outcome"] for s in done["steps"]][-2:] == ["no free slot", "handed off"]
    assert fake.events == {}


async def test_an_unreadable_calendar_takes_on_none_and_says_why(
    owner: Account, fake: FakeCalendars, widget_visitor: Any
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    fake.unreadable = True
    await publish_book_flow(owner, bt["id"])
    v = await widget_visitor()
    await v.say("hi")
    done = await eventually(lambda: _finished(owner, v.conversation_id))
    assert done["status"] == "handed_off"
    assert any("could not be read" in s["outcome"] for s in done["steps"]), done["steps"]
    assert fake.events == {}


async def test_a_slot_taken_meanwhile_gets_fresh_slots_once(
    owner: Account, fake: FakeCalendars, engine: AsyncEngine, widget_visitor: Any
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    await publish_book_flow(owner, bt["id"])
    v = await widget_visitor()
    await v.say("hi")
    offer = await v.bot()
    first = offer["options"][0]
    start = (await _offered_starts(owner, bt["id"]))[0]
    await book(owner, engine, bt["id"], start)  # someone else takes the first slot
    await v.say(first["label"], first["value"])
    fresh = await v.bot()
    assert fresh["text"] == "That time was just taken. Which of these suits you?"
    assert first["label"] not in [o["label"] for o in fresh["options"]]
    await v.say("1")
    assert (await v.bot())["text"] == f"You are booked for {fresh['options'][0]['label']}."
    assert len(fake.events) == 2


async def test_a_book_step_naming_an_unknown_booking_type_cannot_be_published(
    owner: Account,
) -> None:
    body = {
        "name": "Booking",
        "trigger": {"on": "conversation_started"},
        "start": "slot",
        "steps": {
            "slot": {"type": "book", "booking_type_id": "bt_nope", "next": "e", "on_none": "e"},
            "e": {"type": "end"},
        },
    }
    flow = (await owner.post("/api/flows", body)).json()
    refused = await owner.post(f"/api/flows/{flow['id']}/publish")
    assert refused.status_code == 422
    assert refused.json()["problems"] == [
        {"step": "slot", "detail": "There is no booking type 'bt_nope' in this workspace."}
    ]


async def _finished(owner: Account, conversation_id: str) -> dict[str, Any] | None:
    items = await runs(owner, conversation_id)
    return items[0] if items and items[0]["status"] not in ("running", "waiting") else None


async def _offered_starts(owner: Account, bt_id: str) -> list[datetime]:
    now = datetime.now(UTC)
    starts = await slot_starts(owner, bt_id, now, now + timedelta(days=2))
    return [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in starts]


async def test_a_simulated_book_step_looks_nothing_up_and_takes_on_none(
    owner: Account, fake: FakeCalendars
) -> None:
    calendar = await connect(owner, fake)
    bt = await booking_type(owner, calendar["id"])
    calls = fake.provider_calls()
    body = {
        "trigger": {"on": "conversation_started"},
        "start": "slot",
        "steps": {
            "slot": {"type": "book", "booking_type_id": bt["id"], "next": "e", "on_none": "no"},
            "no": {"type": "send", "text": "An operator will help."},
            "e": {"type": "end"},
        },
        "replies": [{"text": "hi"}],
    }
    response = await owner.post("/api/flows/simulate", body)
    assert response.status_code == 200, response.text
    assert [line["text"] for line in response.json()["transcript"] if line["from"] == "bot"] == [
        "An operator will help."
    ]
    assert fake.provider_calls() == calls
