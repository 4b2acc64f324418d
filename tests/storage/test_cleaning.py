"""An inbound message made fit for the database before it is queued, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hub.model import Author, Inbound
from storage.cleaning import NAME_CHARS, cleaned

ANN = Author("contact", "ct_1", "Ann")


def item(**kw: object) -> Inbound:
    values: dict[str, object] = {
        "workspace_id": "ws_1",
        "channel_id": "ch_1",
        "direction": "in",
        "author": ANN,
        "text": "hi",
    }
    values.update(kw)
    return Inbound(**values)  # type: ignore[arg-type]


def test_a_message_that_needs_nothing_is_passed_as_it_is() -> None:
    plain = item(sent_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert cleaned(plain) is plain


def test_a_nul_is_replaced_the_same_way_every_time() -> None:
    first, second = cleaned(item(text="a\x00b")), cleaned(item(text="a\x00b"))
    assert first.text == second.text == "a\ufffdb"


def test_a_long_contact_name_is_cut_to_its_column() -> None:
    assert len(cleaned(item(contact_name="x" * 500)).contact_name or "") == NAME_CHARS


def test_a_sent_at_with_another_offset_is_kept_as_the_same_instant_in_utc() -> None:
    berlin = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    moment = cleaned(item(sent_at=berlin)).sent_at
    assert moment == berlin and moment is not None and moment.tzinfo is UTC


def test_a_naive_sent_at_is_taken_as_utc() -> None:
    moment = cleaned(item(sent_at=datetime(2026, 3, 1, 12, 0))).sent_at
    assert moment == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
