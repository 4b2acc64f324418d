from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from adapters import google_calendar
from adapters.calendars import CalendarError, Interval

Payload = Callable[[str], bytes]
Handler = Callable[[httpx.Request], httpx.Response]


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)


def client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_free_busy_normalises_to_utc_and_reports_calendar_errors(payload: Payload) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://www.googleapis.com/calendar/v3/freeBusy"
        assert request.headers["authorization"] == "Bearer g-token"
        assert json.loads(request.content) == {
            "timeMin": "2026-12-01T07:00:00Z",
            "timeMax": "2026-12-01T17:00:00Z",
            "timeZone": "UTC",
            "items": [{"id": "primary"}, {"id": "dentist.room2@example.com"}],
        }
        return httpx.Response(200, content=payload("google_freebusy.json"))

    async with client(handler) as http:
        result = await google_calendar.free_busy(
            http, "g-token", ["primary", "dentist.room2@example.com"], utc(7), utc(17)
        )
    assert result.busy == (Interval(utc(8), utc(8, 30)), Interval(utc(12), utc(13)))
    assert result.errors == {"dentist.room2@example.com": "notFound"}


async def test_free_busy_rate_limit_403_is_retryable() -> None:
    body = {"error": {"code": 403, "errors": [{"reason": "rateLimitExceeded"}], "message": "x"}}
    async with client(lambda request: httpx.Response(403, json=body)) as http:
        with pytest.raises(CalendarError) as caught:
            await google_calendar.free_busy(http, "g-token", ["primary"], utc(7), utc(17))
    assert caught.value.retryable


def test_event_id_is_stable_base32hex() -> None:
    event_id = google_calendar.event_id_for("bk_01HZX3")
    assert event_id == google_calendar.event_id_for("bk_01HZX3")
    assert set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")
    assert len(event_id) >= 5


async def test_create_event_inserts_with_our_own_id() -> None:
    event_id = google_calendar.event_id_for("bk_01HZX3")

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/calendar/v3/calendars/primary/events"
        assert dict(request.url.params) == {"sendUpdates": "all"}
        assert json.loads(request.content) == {
            "id": event_id,
            "summary": "Check-up – Anna Schmidt",
            "start": {"dateTime": "2026-12-01T09:00:00Z", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T09:30:00Z", "timeZone": "Europe/Berlin"},
            "extendedProperties": {"private": {"hub_booking_id": "bk_01HZX3"}},
            "attendees": [{"email": "anna@example.com", "displayName": "Anna Schmidt"}],
        }
        return httpx.Response(200, json={"kind": "calendar#event", "id": event_id})

    async with client(handler) as http:
        created = await google_calendar.create_event(
            http,
            "g-token",
            calendar_id="primary",
            booking_key="bk_01HZX3",
            summary="Check-up – Anna Schmidt",
            start=utc(9),
            end=utc(9, 30),
            time_zone="Europe/Berlin",
            attendees=[("anna@example.com", "Anna Schmidt")],
            send_updates="all",
        )
    assert created == event_id


async def test_create_event_that_already_exists_counts_as_created() -> None:
    async with client(lambda request: httpx.Response(409, json={"error": {"code": 409}})) as http:
        created = await google_calendar.create_event(
            http,
            "g-token",
            calendar_id="primary",
            booking_key="bk_1",
            summary="x",
            start=utc(9),
            end=utc(10),
        )
    assert created == google_calendar.event_id_for("bk_1")


async def test_delete_of_a_gone_event_is_fine() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "DELETE"
        assert request.url.raw_path.startswith(
            b"/calendar/v3/calendars/room%231@example.com/events/abc?"
        )
        return httpx.Response(410)

    async with client(handler) as http:
        await google_calendar.delete_event(http, "g-token", "room#1@example.com", "abc")


async def test_revoke_posts_the_token_as_a_form() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://oauth2.googleapis.com/revoke"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.content == b"token=1%2F%2Frefresh"
        return httpx.Response(200)

    async with client(handler) as http:
        assert await google_calendar.revoke_token(http, "1//refresh") is True


async def test_revoke_of_an_invalid_token_returns_false() -> None:
    body = {"error": "invalid_token"}
    async with client(lambda request: httpx.Response(400, json=body)) as http:
        assert await google_calendar.revoke_token(http, "gone") is False


async def test_unauthorized_is_not_retryable() -> None:
    async with client(lambda request: httpx.Response(401, json={"error": {"code": 401}})) as http:
        with pytest.raises(CalendarError) as caught:
            await google_calendar.free_busy(http, "stale", ["primary"], utc(7), utc(17))
    assert (caught.value.retryable, caught.value.code) == (False, "401")
