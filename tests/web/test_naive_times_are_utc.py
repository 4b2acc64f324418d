"""One rule for times without a zone (SQLite hands them back naive): they are UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hub.model import as_utc


def test_a_naive_time_is_taken_as_utc() -> None:
    assert as_utc(datetime(2026, 3, 1, 12, 0)) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_an_aware_time_is_the_same_instant_in_utc() -> None:
    berlin = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    moment = as_utc(berlin)
    assert (moment, moment.tzinfo) == (datetime(2026, 3, 1, 12, 0, tzinfo=UTC), UTC)
