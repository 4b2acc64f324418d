"""Ids are ULIDs: 48 bits of milliseconds, then 80 random bits, in Crockford base32."""

from __future__ import annotations

import os
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub import ids

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def at_ms(monkeypatch: pytest.MonkeyPatch, ms: int) -> None:
    monkeypatch.setattr(ids.time, "time_ns", lambda: ms * 1_000_000 + 999_999)


def fixed(monkeypatch: pytest.MonkeyPatch, ms: int, random: bytes) -> None:
    """The clock at ``ms``, and the CSPRNG repeating ``random`` (nothing drawn before)."""
    at_ms(monkeypatch, ms)
    monkeypatch.setattr(ids.os, "urandom", lambda n: (random * n)[:n])
    monkeypatch.setattr(ids, "_random", iter(()))


def test_the_time_is_the_first_ten_digits_as_in_the_ulid_specification(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixed(monkeypatch, 1469922850259, bytes(1))  # the specification's example time
    assert ids.new_id() == "01ARZ3NDEK" + "0" * 16


@given(st.integers(min_value=0, max_value=2**48 - 1))
def test_the_time_digits_are_the_milliseconds_five_bits_a_digit(ms: int) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        at_ms(monkeypatch, ms)
        digits = ids.new_id()[:10]
    assert digits == "".join(ALPHABET[ms >> 5 * n & 31] for n in reversed(range(10)))


def test_each_random_digit_is_the_low_five_bits_of_one_random_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixed(monkeypatch, 0, bytes(range(256)))
    assert [ids.new_id()[10:] for _ in range(3)] == [
        "0123456789ABCDEF",
        "GHJKMNPQRSTVWXYZ",
        "0123456789ABCDEF",  # 32 is 0 in five bits
    ]


def test_the_largest_id_starts_with_seven(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed(monkeypatch, 2**48 - 1, b"\xff")
    assert ids.new_id("msg_") == "msg_7" + "Z" * 25


def test_ids_are_unique_within_a_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    at_ms(monkeypatch, 1765000000000)
    made = [ids.new_id() for _ in range(5000)]  # many bulk draws of random digits
    assert len(set(made)) == len(made)


def test_ids_of_a_later_millisecond_sort_after_earlier_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = []
    for ms in (1765000000999, 1765000001000, 1765000001001):
        at_ms(monkeypatch, ms)
        made.append(sorted(ids.new_id("msg_") for _ in range(300)))
    assert made[0][-1] < made[1][0] and made[1][-1] < made[2][0]


def test_a_forked_child_draws_its_own_random_digits() -> None:
    ids.new_id()  # the parent holds random digits it has not used yet
    read, write = os.pipe()
    with warnings.catch_warnings():  # 3.12+ warns of threads; the child only writes and exits
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, ids.new_id()[10:].encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        theirs = pipe.read()
    assert len(theirs) == 16 and theirs != ids.new_id()[10:]
