"""The contract's one time format: RFC 3339, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hub.model import rfc3339


def test_rfc3339_is_utc_with_milliseconds_and_z() -> None:
    moment = datetime(2026, 12, 7, 13, 5, 9, 123456, tzinfo=UTC)
    assert rfc3339(moment) == "2026-12-07T13:05:09.123Z"


def test_rfc3339_converts_an_offset_to_utc() -> None:
    moment = datetime(2026, 12, 7, 14, 0, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(moment) == "2026-12-07T13:00:00.000Z"


def test_rfc3339_takes_a_naive_time_as_utc() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"


def test_rfc3339_pads_years_below_one_thousand_to_four_digits() -> None:
    assert rfc3339(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000Z"
