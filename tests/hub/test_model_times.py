"""The contract's one time format: RFC 3339, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

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


_EARLIEST, _LATEST = datetime(1, 1, 2), datetime(9999, 12, 30)  # no offset leaves the calendar
_MOMENTS = st.datetimes(_EARLIEST, _LATEST) | st.datetimes(
    _EARLIEST, _LATEST, timezones=st.just(UTC) | st.timezones()
)


@given(_MOMENTS)
@settings(max_examples=500)
def test_rfc3339_is_isoformat_in_utc_to_the_millisecond(moment: datetime) -> None:
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    expected = utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    assert rfc3339(moment) == expected


def test_rfc3339_truncates_to_the_millisecond_at_its_edges() -> None:
    second = datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC)
    formatted = [rfc3339(second.replace(microsecond=us)) for us in (0, 999, 1000, 999_999)]
    assert formatted == [
        "2026-12-07T23:59:59.000Z",
        "2026-12-07T23:59:59.000Z",
        "2026-12-07T23:59:59.001Z",
        "2026-12-07T23:59:59.999Z",
    ]


def test_rfc3339_stays_right_after_it_has_formatted_more_seconds_than_it_keeps() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(seconds=n, microseconds=n) for n in range(10_000)]
    assert [rfc3339(m) for m in moments] == [
        m.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z" for m in moments
    ]
