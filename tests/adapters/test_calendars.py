from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from adapters.calendars import BusinessHours, Interval, free_slots, merge, zone


def utc(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_overlapping_and_touching_busy_intervals_merge() -> None:
    busy = [Interval(utc(10), utc(11)), Interval(utc(9), utc(10)), Interval(utc(12), utc(13))]
    assert merge(busy) == (Interval(utc(9), utc(11)), Interval(utc(12), utc(13)))


def test_free_slots_skip_busy_time_in_a_plain_window() -> None:
    slots = free_slots([Interval(utc(9, 30), utc(10, 15))], utc(9), utc(11), 30)
    assert slots == [Interval(utc(9), utc(9, 30)), Interval(utc(10, 30), utc(11))]


def test_free_slots_follow_business_hours_in_local_time() -> None:
    # Tuesday 1 December 2026; Berlin is UTC+1 in winter.
    hours = BusinessHours("Europe/Berlin", {1: ((time(9), time(10)),)})
    slots = free_slots([], utc(0), utc(23), 30, hours)
    assert slots == [Interval(utc(8), utc(8, 30)), Interval(utc(8, 30), utc(9))]


def test_free_slots_step_can_be_shorter_than_the_slot() -> None:
    slots = free_slots([], utc(9), utc(10), 30, step_minutes=15)
    assert [s.start for s in slots] == [utc(9), utc(9, 15), utc(9, 30)]


def test_closed_days_give_no_slots() -> None:
    hours = BusinessHours("UTC", {0: ((time(9), time(17)),)})  # Mondays only
    assert free_slots([], utc(0), utc(23), 30, hours) == []


def test_business_hours_parse_from_workspace_json() -> None:
    hours = BusinessHours.from_json(
        {"timezone": "Europe/Berlin", "days": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}}
    )
    assert hours.days == {0: ((time(9), time(12)), (time(13), time(17)))}


def test_business_hours_with_a_bad_day_are_refused() -> None:
    with pytest.raises(ValueError):
        BusinessHours.from_json({"timezone": "UTC", "days": {"someday": [["09:00", "10:00"]]}})


def test_windows_zone_names_map_to_iana() -> None:
    assert zone("Pacific Standard Time").key == "America/Los_Angeles"
    assert zone("W. Europe Standard Time").key == "Europe/Berlin"


def test_unknown_zone_name_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        zone("Mars Standard Time")
