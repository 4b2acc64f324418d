"""Ids are ULIDs: 48 bits of milliseconds, then 80 random bits, in Crockford base32."""

from __future__ import annotations

import pytest

from hub import ids


def fixed(monkeypatch: pytest.MonkeyPatch, ms: int, random: bytes) -> None:
    monkeypatch.setattr(ids.time, "time_ns", lambda: ms * 1_000_000)
    monkeypatch.setattr(ids.os, "urandom", lambda n: random[:n])


def test_the_time_is_the_first_ten_digits_as_in_the_ulid_specification(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixed(monkeypatch, 1469922850259, bytes(10))  # the specification's example time
    assert ids.new_id() == "01ARZ3NDEK" + "0" * 16


def test_the_random_bits_are_the_last_sixteen_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed(monkeypatch, 0, bytes.fromhex("0123456789abcdef0123"))
    # 0x0123456789abcdef0123 in Crockford base32, five bits a digit
    assert ids.new_id() == "0" * 10 + "04HMASW9NF6YY093"


def test_the_largest_id_starts_with_seven(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed(monkeypatch, 2**48 - 1, b"\xff" * 10)
    assert ids.new_id("msg_") == "msg_7" + "Z" * 25
