"""Microsoft Graph (Outlook) calendars: getSchedule, booking events.

Graph has no token revocation for one app (``revokeSignInSessions`` logs the user out of
everything), so disconnecting is: delete our stored tokens, and tell the user where to
remove the app's consent. Access tokens stay valid until they expire.

``getSchedule`` answers with offset-less local times plus a zone name, IANA or Windows
("Pacific Standard Time"); both become UTC here. It is not available for personal
Microsoft accounts (``GET /me/calendarView`` is the fallback, not implemented yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from adapters.calendars import (
    CalendarError,
    FreeBusy,
    Interval,
    call,
    json_object,
    merge,
    to_utc,
    zone,
)

GRAPH_BASE = "https://graph.microsoft.com/v1.0"
# Statuses that make a time unbookable; "unknown" counts as busy to be safe.
BUSY_STATUSES = frozenset({"busy", "oof", "tentative", "unknown"})


def parse_graph_datetime(value: str, time_zone: str) -> datetime:
    """``2019-03-15T12:00:00.0000000`` in ``Pacific Standard Time`` to an aware UTC time.

    Raises ValueError for a malformed time or an unknown zone.
    """
    head, _, fraction = value.partition(".")
    moment = datetime.fromisoformat(head)
    if fraction:
        digits = fraction.rstrip("Z")[:6].ljust(6, "0")
        if not digits.isdigit():
            raise ValueError(f"bad fraction in {value!r}")
        moment = moment.replace(microsecond=int(digits))
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return moment.replace(tzinfo=zone(time_zone)).astimezone(UTC)


def _graph_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": to_utc(moment).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _item_interval(item: dict[str, Any], what: str) -> Interval:
    try:
        start, end = item["start"], item["end"]
        return Interval(
            parse_graph_datetime(start["dateTime"], start.get("timeZone", "UTC")),
            parse_graph_datetime(end["dateTime"], end.get("timeZone", "UTC")),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise CalendarError(f"{what}: bad schedule item ({exc})", retryable=False) from None


async def get_schedule(
    client: httpx.AsyncClient,
    access_token: str,
    schedules: Sequence[str],
    start: datetime,
    end: datetime,
    interval_minutes: int = 30,
) -> FreeBusy:
    """``POST /me/calendar/getSchedule`` (window under 42 days); busy time in UTC."""
    what = "Graph getSchedule"
    payload = {
        "schedules": list(schedules),
        "startTime": _graph_time(start),
        "endTime": _graph_time(end),
        "availabilityViewInterval": interval_minutes,
    }
    response = await call(
        client,
        "POST",
        f"{GRAPH_BASE}/me/calendar/getSchedule",
        access_token=access_token,
        what=what,
        json=payload,
    )
    values = json_object(response, what).get("value")
    if not isinstance(values, list):
        raise CalendarError(f"{what}: no value array in the answer", retryable=False)
    by_calendar: dict[str, tuple[Interval, ...]] = {}
    errors: dict[str, str] = {}
    for info in values:
        if not isinstance(info, dict) or not isinstance(info.get("scheduleId"), str):
            continue
        schedule_id = info["scheduleId"]
        error = info.get("error")
        if isinstance(error, dict):
            errors[schedule_id] = str(error.get("message") or error.get("responseCode") or "error")
        by_calendar[schedule_id] = merge(
            _item_interval(item, what)
            for item in info.get("scheduleItems") or []
            if isinstance(item, dict) and item.get("status") in BUSY_STATUSES
        )
    return FreeBusy.from_calendars(by_calendar, errors)


async def create_event(
    client: httpx.AsyncClient,
    access_token: str,
    *,
    booking_key: str,
    subject: str,
    start: datetime,
    end: datetime,
    body_html: str | None = None,
    location: str | None = None,
    attendees: Sequence[tuple[str, str | None]] = (),
) -> str:
    """``POST /me/events``; returns the event id.

    ``transactionId`` (our booking key) lets Graph drop a retried POST. Attendees get
    invitations from Outlook.
    """
    what = "Graph create event"
    event: dict[str, Any] = {
        "subject": subject,
        "start": _graph_time(start),
        "end": _graph_time(end),
        "transactionId": booking_key,
    }
    if body_html is not None:
        event["body"] = {"contentType": "HTML", "content": body_html}
    if location is not None:
        event["location"] = {"displayName": location}
    if attendees:
        event["attendees"] = [
            {
                "emailAddress": {"address": email, **({"name": name} if name else {})},
                "type": "required",
            }
            for email, name in attendees
        ]
    response = await call(
        client, "POST", f"{GRAPH_BASE}/me/events", access_token=access_token, what=what, json=event
    )
    event_id = json_object(response, what).get("id")
    if not isinstance(event_id, str) or not event_id:
        raise CalendarError(f"{what}: no id in the answer", retryable=False)
    return event_id


async def delete_event(client: httpx.AsyncClient, access_token: str, event_id: str) -> None:
    """``DELETE /me/events/{id}``; an event already gone (404) counts as deleted."""
    await call(
        client,
        "DELETE",
        f"{GRAPH_BASE}/me/events/{quote(event_id, safe='')}",
        access_token=access_token,
        what="Graph delete event",
        ok=(404,),
    )


async def move_event(
    client: httpx.AsyncClient, access_token: str, event_id: str, start: datetime, end: datetime
) -> None:
    """``PATCH /me/events/{id}`` of start and end only (a reschedule)."""
    await call(
        client,
        "PATCH",
        f"{GRAPH_BASE}/me/events/{quote(event_id, safe='')}",
        access_token=access_token,
        what="Graph update event",
        json={"start": _graph_time(start), "end": _graph_time(end)},
    )


async def account_name(client: httpx.AsyncClient, access_token: str) -> str:
    """The connected mailbox's address, from its default calendar's ``owner``
    (``Calendars.ReadWrite`` allows it; no profile scope needed). getSchedule asks about it."""
    what = "Graph get calendar"
    response = await call(
        client, "GET", f"{GRAPH_BASE}/me/calendar", access_token=access_token, what=what
    )
    owner = json_object(response, what).get("owner")
    address = owner.get("address") if isinstance(owner, dict) else None
    return address if isinstance(address, str) else ""
