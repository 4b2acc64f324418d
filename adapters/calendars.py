"""What the calendar providers have in common: UTC busy intervals and free slots.

:mod:`adapters.google_calendar` and :mod:`adapters.microsoft_calendar` both answer with
:class:`FreeBusy` (busy time in UTC, merged over the asked calendars, plus per-calendar
errors); :func:`free_slots` turns that into bookable slots. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from adapters.base import (
    ProviderError,
    response_json,
    retry_after_seconds,
    retryable_status,
    transport_error,
)


class CalendarError(ProviderError):
    """A calendar provider call failed (``retryable`` as for sends; 401 means refresh the
    token and try again, which is the caller's job, so it is not marked retryable)."""


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError("interval ends before it starts")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class FreeBusy:
    """Busy time over all calendars asked about (merged), each calendar's own, and errors.

    A calendar in ``errors`` could not be read: treat the answer as incomplete rather than
    as free time.
    """

    busy: tuple[Interval, ...]
    by_calendar: Mapping[str, tuple[Interval, ...]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_calendars(
        cls, by_calendar: Mapping[str, tuple[Interval, ...]], errors: Mapping[str, str]
    ) -> FreeBusy:
        """``busy`` is every calendar's busy time, merged."""
        busy = merge(interval for intervals in by_calendar.values() for interval in intervals)
        return cls(busy, by_calendar, errors)


def merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, with overlapping or touching intervals joined."""
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return tuple(merged)


# Business hours and free slots -------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening periods per weekday (0 = Monday) as local wall-clock times in ``timezone``.

    A period whose close is not after its open (``22:00``–``00:00``) runs past midnight.
    """

    timezone: str
    days: Mapping[int, tuple[tuple[time, time], ...]]

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> BusinessHours:
        """From ``{"timezone": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]], ...}}``.

        Raises ValueError naming what is wrong.
        """
        timezone = value.get("timezone", "UTC")
        if not isinstance(timezone, str):
            raise ValueError("business_hours.timezone must be a string")
        zone(timezone)
        raw_days = value.get("days", {})
        if not isinstance(raw_days, Mapping):
            raise ValueError("business_hours.days must be an object")
        days: dict[int, tuple[tuple[time, time], ...]] = {}
        for name, periods in raw_days.items():
            if name not in _DAYS or not isinstance(periods, list):
                raise ValueError(f"business_hours.days.{name}: expected mon..sun with a list")
            parsed = []
            for period in periods:
                if not (isinstance(period, list) and len(period) == 2):
                    raise ValueError(f"business_hours.days.{name}: periods are [open, close]")
                try:
                    parsed.append((time.fromisoformat(period[0]), time.fromisoformat(period[1])))
                except (TypeError, ValueError):
                    raise ValueError(f"business_hours.days.{name}: times are HH:MM") from None
            days[_DAYS.index(name)] = tuple(parsed)
        return cls(timezone, days)


def open_periods(
    window_start: datetime, window_end: datetime, hours: BusinessHours | None
) -> list[Interval]:
    """The parts of ``[window_start, window_end)`` that fall in business hours, in UTC."""
    window = Interval(window_start, window_end)
    if hours is None:
        return [window]
    tz = zone(hours.timezone)
    day = window.start.astimezone(tz).date() - timedelta(days=1)  # a period may cross midnight
    last = window.end.astimezone(tz).date()
    periods = []
    while day <= last:
        for opens, closes in hours.days.get(day.weekday(), ()):
            start = datetime.combine(day, opens, tzinfo=tz)
            close_day = day if closes > opens else day + timedelta(days=1)
            end = datetime.combine(close_day, closes, tzinfo=tz)
            start_utc, end_utc = (
                max(start.astimezone(UTC), window.start),
                min(end.astimezone(UTC), window.end),
            )
            if start_utc < end_utc:
                periods.append(Interval(start_utc, end_utc))
        day += timedelta(days=1)
    return list(merge(periods))


def free_slots(
    busy: Iterable[Interval],
    window_start: datetime,
    window_end: datetime,
    slot_minutes: int,
    business_hours: BusinessHours | None = None,
    step_minutes: int | None = None,
) -> list[Interval]:
    """Slots of ``slot_minutes`` inside the window (and business hours) that touch no busy
    interval. Slots start at each opening (or at ``window_start`` without business hours)
    and every ``step_minutes`` (default: the slot length) after it."""
    if slot_minutes <= 0 or (step_minutes is not None and step_minutes <= 0):
        raise ValueError("slot and step lengths must be positive")
    length = timedelta(minutes=slot_minutes)
    step = timedelta(minutes=step_minutes or slot_minutes)
    blocked = merge(busy)
    slots = []
    cursor = 0
    for period in open_periods(window_start, window_end, business_hours):
        start = period.start
        while start + length <= period.end:
            slot = Interval(start, start + length)
            while cursor < len(blocked) and blocked[cursor].end <= slot.start:
                cursor += 1
            if not any(b.overlaps(slot) for b in blocked[cursor : cursor + 1]):
                slots.append(slot)
            start += step
    return slots


# Time zones ------------------------------------------------------------------------------

# Windows zone names Microsoft Graph may answer with, to IANA (after CLDR windowsZones.xml,
# territory 001). Extend as customers need; IANA names are accepted as they are.
WINDOWS_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "tzone://Microsoft/Utc": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "GTB Standard Time": "Europe/Bucharest",
    "Turkey Standard Time": "Europe/Istanbul",
    "Russian Standard Time": "Europe/Moscow",
    "Israel Standard Time": "Asia/Jerusalem",
    "Egypt Standard Time": "Africa/Cairo",
    "South Africa Standard Time": "Africa/Johannesburg",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Kolkata",
    "SE Asia Standard Time": "Asia/Bangkok",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
    "Atlantic Standard Time": "America/Halifax",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "SA Pacific Standard Time": "America/Bogota",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Buenos_Aires",
}


def zone(name: str) -> ZoneInfo:
    """An IANA or (common) Windows zone name to a ZoneInfo; ValueError if unknown."""
    iana = WINDOWS_ZONES.get(name, name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    return moment.astimezone(UTC)


def rfc3339_utc(moment: datetime) -> str:
    return to_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


# HTTP ------------------------------------------------------------------------------------

Classifier = Callable[[httpx.Response, Any], bool]


async def call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    access_token: str,
    what: str,
    ok: Sequence[int] = (),
    classify: Classifier | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One authenticated call; any non-2xx status not listed in ``ok`` is a CalendarError.

    ``classify(response, body)`` may mark an error retryable beyond 429 and 5xx.
    """
    headers = {"Authorization": f"Bearer {access_token}"}
    try:
        response = await client.request(method, url, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise transport_error(exc, what, CalendarError) from exc
    if response.is_success or response.status_code in ok:
        return response
    body = response_json(response)
    retryable = retryable_status(response.status_code)
    if classify is not None and classify(response, body):
        retryable = True
    message = ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message = f": {error['message']}"
    raise CalendarError(
        f"{what} failed with HTTP {response.status_code}{message}",
        retryable=retryable,
        retry_after=retry_after_seconds(response),
        code=str(response.status_code),
    )


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    body = response_json(response)
    if not isinstance(body, dict):
        raise CalendarError(f"{what}: the answer is not a JSON object", retryable=False)
    return body
