"""A workspace's business hours: weekly opening times in its time zone, with holidays.

``{timezone: "Europe/Sarajevo", weekly: {mon: [["09:00", "17:00"]], ..., sun: []},
holidays: ["2026-12-25"]}``. The clock is always passed in, so tests choose the hour.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")


class BusinessHours(msgspec.Struct, forbid_unknown_fields=True):
    timezone: str
    weekly: dict[str, list[tuple[str, str]]] = {}
    holidays: list[str] = []

    def is_open(self, now: datetime) -> bool:
        """Whether ``now`` (an aware time) falls in an opening interval on a working day."""
        local = now.astimezone(ZoneInfo(self.timezone))
        if local.date().isoformat() in self.holidays:
            return False
        moment = local.time().replace(tzinfo=None)
        for start, end in self.weekly.get(DAYS[local.weekday()], []):
            if _clock(start) <= moment < _clock(end):
                return True
        return False


def _clock(value: str) -> time:
    return time.max if value == "24:00" else time.fromisoformat(value)


class InvalidHours(ValueError):
    """The business hours are malformed; the message is a sentence for the API."""


def parse_hours(data: Any) -> BusinessHours:
    """Validated business hours from decoded JSON (:class:`InvalidHours` says what is wrong)."""
    try:
        hours = msgspec.convert(data, BusinessHours)
    except msgspec.ValidationError as exc:
        raise InvalidHours(f"business_hours is invalid: {exc}.") from None
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidHours(
            f"{hours.timezone!r} is not a time zone (e.g. Europe/Sarajevo)."
        ) from None
    for day, intervals in hours.weekly.items():
        if day not in DAYS:
            raise InvalidHours(f"{day!r} is not a day; use {', '.join(DAYS)}.")
        if len(intervals) > 10:
            raise InvalidHours(f"{day} has more than 10 intervals.")
        for start, end in intervals:
            if not (_CLOCK.fullmatch(start) and _CLOCK.fullmatch(end)):
                raise InvalidHours(f"{day}: times are HH:MM, 00:00 to 24:00.")
            if _clock(start) >= _clock(end):
                raise InvalidHours(f"{day}: {start} to {end} does not end after it starts.")
    if len(hours.holidays) > 366:
        raise InvalidHours("At most 366 holidays.")
    for holiday in hours.holidays:
        try:
            date.fromisoformat(holiday)
        except ValueError:
            raise InvalidHours(f"{holiday!r} is not a date (YYYY-MM-DD).") from None
    return hours


ALWAYS_OPEN = BusinessHours(timezone="UTC", weekly={day: [("00:00", "24:00")] for day in DAYS})
