from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from adapters import microsoft_calendar
from adapters.calendars import CalendarError, Interval

Payload = Callable[[str], bytes]
Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_offsetless_time_in_a_windows_zone_becomes_utc() -> None:
    moment = microsoft_calendar.parse_graph_datetime(
        "2019-03-15T12:00:00.0000000", "Pacific Standard Time"
    )
    assert moment == datetime(2019, 3, 15, 19, 0, tzinfo=UTC)  # PDT, UTC-7


def test_offsetless_time_in_an_iana_zone_becomes_utc() -> None:
    moment = microsoft_calendar.parse_graph_datetime("2019-01-15T12:00:00.5", "Europe/Berlin")
    assert moment == datetime(2019, 1, 15, 11, 0, 0, 500000, tzinfo=UTC)


async def test_get_schedule_gives_busy_utc_intervals_and_errors(payload: Payload) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://graph.microsoft.com/v1.0/me/calendar/getSchedule"
        assert request.headers["authorization"] == "Bearer ms-token"
        assert json.loads(request.content) == {
            "schedules": ["adelev@contoso.onmicrosoft.com", "meganb@contoso.onmicrosoft.com"],
            "startTime": {"dateTime": "2019-03-15T08:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2019-03-16T02:00:00", "timeZone": "UTC"},
            "availabilityViewInterval": 60,
        }
        return httpx.Response(200, content=payload("graph_getschedule.json"))

    async with client(handler) as http:
        result = await microsoft_calendar.get_schedule(
            http,
            "ms-token",
            ["adelev@contoso.onmicrosoft.com", "meganb@contoso.onmicrosoft.com"],
            datetime(2019, 3, 15, 8, tzinfo=UTC),
            datetime(2019, 3, 16, 2, tzinfo=UTC),
            interval_minutes=60,
        )
    assert result.busy == (
        Interval(datetime(2019, 3, 15, 8, tzinfo=UTC), datetime(2019, 3, 15, 8, 30, tzinfo=UTC)),
        Interval(datetime(2019, 3, 15, 19, tzinfo=UTC), datetime(2019, 3, 15, 21, tzinfo=UTC)),
    )
    assert result.errors == {
        "nobody@contoso.onmicrosoft.com": "The specified object was not found in the store."
    }


async def test_create_event_posts_with_a_transaction_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://graph.microsoft.com/v1.0/me/events"
        assert json.loads(request.content) == {
            "subject": "Let's go for lunch",
            "start": {"dateTime": "2017-04-15T19:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2017-04-15T21:00:00", "timeZone": "UTC"},
            "transactionId": "bk_1",
            "location": {"displayName": "Harry's Bar"},
            "attendees": [
                {
                    "emailAddress": {
                        "address": "samanthab@contoso.onmicrosoft.com",
                        "name": "Samantha Booth",
                    },
                    "type": "required",
                }
            ],
        }
        return httpx.Response(201, json={"id": "AAMkAGI1AAAt9AHjAAA="})

    async with client(handler) as http:
        event_id = await microsoft_calendar.create_event(
            http,
            "ms-token",
            booking_key="bk_1",
            subject="Let's go for lunch",
            start=datetime(2017, 4, 15, 19, tzinfo=UTC),
            end=datetime(2017, 4, 15, 21, tzinfo=UTC),
            location="Harry's Bar",
            attendees=[("samanthab@contoso.onmicrosoft.com", "Samantha Booth")],
        )
    assert event_id == "AAMkAGI1AAAt9AHjAAA="


async def test_delete_event_quotes_the_id_and_accepts_404() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "DELETE"
        assert request.url.raw_path == b"/v1.0/me/events/AAMkAGI1AAAt9AHjAAA%3D"
        return httpx.Response(404)

    async with client(handler) as http:
        await microsoft_calendar.delete_event(http, "ms-token", "AAMkAGI1AAAt9AHjAAA=")


async def test_throttled_graph_call_is_retryable_with_retry_after() -> None:
    response = httpx.Response(429, headers={"Retry-After": "10"})
    async with client(lambda request: response) as http:
        with pytest.raises(CalendarError) as caught:
            await microsoft_calendar.delete_event(http, "ms-token", "x")
    assert (caught.value.retryable, caught.value.retry_after) == (True, 10.0)
