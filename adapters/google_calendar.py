"""Google Calendar v3: free/busy, booking events, and revoking our token on disconnect.

Every call takes an OAuth access token; refreshing it is the caller's job (a 401 raises a
non-retryable :class:`~adapters.calendars.CalendarError` with ``code == "401"``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from adapters.base import retryable_status
from adapters.calendars import (
    CalendarError,
    FreeBusy,
    Interval,
    call,
    json_object,
    merge,
    rfc3339_utc,
    to_utc,
)

CALENDAR_BASE = "https://www.googleapis.com/calendar/v3"
REVOKE_URL = "https://oauth2.googleapis.com/revoke"
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


def _rate_limited(response: httpx.Response, body: Any) -> bool:
    # Google answers some throttling with 403 and a reason instead of 429.
    error = body.get("error") if isinstance(body, dict) else None
    errors = error.get("errors") if isinstance(error, dict) else None
    reasons = {e.get("reason") for e in errors or [] if isinstance(e, dict)}
    return bool(reasons & _RATE_REASONS)


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise CalendarError(f"{what}: a busy period has no start/end", retryable=False)
    try:
        return to_utc(datetime.fromisoformat(value))
    except ValueError:
        raise CalendarError(f"{what}: bad time {value!r}", retryable=False) from None


async def free_busy(
    client: httpx.AsyncClient,
    access_token: str,
    calendar_ids: Sequence[str],
    time_min: datetime,
    time_max: datetime,
) -> FreeBusy:
    """``POST /freeBusy``; busy time in UTC, plus the calendars Google could not read."""
    what = "Google freeBusy"
    payload = {
        "timeMin": rfc3339_utc(time_min),
        "timeMax": rfc3339_utc(time_max),
        "timeZone": "UTC",
        "items": [{"id": calendar_id} for calendar_id in calendar_ids],
    }
    response = await call(
        client,
        "POST",
        f"{CALENDAR_BASE}/freeBusy",
        access_token=access_token,
        what=what,
        classify=_rate_limited,
        json=payload,
    )
    calendars = json_object(response, what).get("calendars")
    if not isinstance(calendars, dict):
        raise CalendarError(f"{what}: no calendars map in the answer", retryable=False)
    by_calendar: dict[str, tuple[Interval, ...]] = {}
    errors: dict[str, str] = {}
    for calendar_id, info in calendars.items():
        if not isinstance(info, dict):
            continue
        problems = [e for e in info.get("errors") or [] if isinstance(e, dict)]
        if problems:
            errors[calendar_id] = ", ".join(str(e.get("reason", "error")) for e in problems)
        by_calendar[calendar_id] = merge(
            Interval(_parse_time(p.get("start"), what), _parse_time(p.get("end"), what))
            for p in info.get("busy") or []
            if isinstance(p, dict)
        )
    for calendar_id in calendar_ids:
        if calendar_id not in calendars:
            errors.setdefault(calendar_id, "missing")
    return FreeBusy.from_calendars(by_calendar, errors)


def event_id_for(booking_key: str) -> str:
    """Our own event id for a booking: base32hex (``0-9a-v``), so retries cannot double-book.

    Reversible and stable: the same booking key always gives the same id.
    """
    encoded = base64.b32hexencode(booking_key.encode("utf-8")).decode("ascii")
    return encoded.rstrip("=").lower()


async def create_event(
    client: httpx.AsyncClient,
    access_token: str,
    *,
    calendar_id: str,
    booking_key: str,
    summary: str,
    start: datetime,
    end: datetime,
    time_zone: str = "UTC",
    description: str | None = None,
    location: str | None = None,
    attendees: Sequence[tuple[str, str | None]] = (),
    send_updates: str = "none",
) -> str:
    """``events.insert`` with our idempotent id; returns the event id.

    A 409 means an event with that id exists already (an earlier try went through): that
    is success. ``attendees`` are ``(email, display name)`` pairs.
    """
    what = "Google events.insert"
    event_id = event_id_for(booking_key)
    event: dict[str, Any] = {
        "id": event_id,
        "summary": summary,
        "start": {"dateTime": rfc3339_utc(start), "timeZone": time_zone},
        "end": {"dateTime": rfc3339_utc(end), "timeZone": time_zone},
        "extendedProperties": {"private": {"hub_booking_id": booking_key}},
    }
    if description is not None:
        event["description"] = description
    if location is not None:
        event["location"] = location
    if attendees:
        event["attendees"] = [
            {"email": email, **({"displayName": name} if name else {})} for email, name in attendees
        ]
    response = await call(
        client,
        "POST",
        f"{CALENDAR_BASE}/calendars/{quote(calendar_id, safe='@')}/events",
        access_token=access_token,
        what=what,
        ok=(409,),
        classify=_rate_limited,
        params={"sendUpdates": send_updates},
        json=event,
    )
    if response.status_code == 409:
        return event_id
    created = json_object(response, what).get("id")
    return created if isinstance(created, str) and created else event_id


async def delete_event(
    client: httpx.AsyncClient,
    access_token: str,
    calendar_id: str,
    event_id: str,
    send_updates: str = "none",
) -> None:
    """``events.delete``; an event that is already gone (404, 410) counts as deleted."""
    await call(
        client,
        "DELETE",
        f"{CALENDAR_BASE}/calendars/{quote(calendar_id, safe='@')}/events/{quote(event_id)}",
        access_token=access_token,
        what="Google events.delete",
        ok=(404, 410),
        classify=_rate_limited,
        params={"sendUpdates": send_updates},
    )


async def revoke_token(client: httpx.AsyncClient, token: str) -> bool:
    """Revoke a refresh (or access) token on disconnect.

    True when Google revoked it, False when Google refused (400: already revoked or
    invalid). Either way the caller deletes its stored copy. Raises a retryable
    CalendarError for 429/5xx/timeouts.
    """
    what = "Google token revocation"
    try:
        response = await client.post(REVOKE_URL, data={"token": token})
    except httpx.HTTPError as exc:
        raise CalendarError(f"{what} failed: {type(exc).__name__}", retryable=True) from exc
    if response.is_success:
        return True
    if retryable_status(response.status_code):
        raise CalendarError(
            f"{what} failed with HTTP {response.status_code}",
            retryable=True,
            code=str(response.status_code),
        )
    return False


async def move_event(
    client: httpx.AsyncClient,
    access_token: str,
    calendar_id: str,
    event_id: str,
    start: datetime,
    end: datetime,
    send_updates: str = "none",
) -> None:
    """``events.patch`` of start and end only (a reschedule)."""
    await call(
        client,
        "PATCH",
        f"{CALENDAR_BASE}/calendars/{quote(calendar_id, safe='@')}/events/{quote(event_id)}",
        access_token=access_token,
        what="Google events.patch",
        classify=_rate_limited,
        params={"sendUpdates": send_updates},
        json={
            "start": {"dateTime": rfc3339_utc(start)},
            "end": {"dateTime": rfc3339_utc(end)},
        },
    )


async def account_name(client: httpx.AsyncClient, access_token: str) -> str:
    """The connected account, as the primary calendar's title (its owner's address).

    ``events.list`` is allowed by the ``calendar.events`` scope and its answer carries the
    calendar's ``summary``; no profile scope is needed for it.
    """
    what = "Google events.list"
    response = await call(
        client,
        "GET",
        f"{CALENDAR_BASE}/calendars/primary/events",
        access_token=access_token,
        what=what,
        classify=_rate_limited,
        params={"maxResults": "1"},
    )
    summary = json_object(response, what).get("summary")
    return summary if isinstance(summary, str) else ""
