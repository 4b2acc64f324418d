"""The limiter's keys (web.limits): keyed hashes of what a budget counts, one per subject."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from web import limits
from web.crypto import keyed_hash

SECRET = "limit-keys-test-secret-that-is-long-enough-0123"


@pytest.fixture(autouse=True)
def empty_key_cache() -> Iterator[None]:
    limits._key.cache_clear()
    yield
    limits._key.cache_clear()


def test_a_key_is_the_door_and_a_keyed_hash_of_the_subject() -> None:
    key = limits._key(SECRET, "channel", ("chn_1",))
    assert key == "channel:" + keyed_hash(SECRET, "ratelimit", "chn_1")
    assert "chn_1" not in key


def test_keys_differ_by_door_subject_and_secret() -> None:
    keys = {
        limits._key(SECRET, "channel", ("chn_1",)),
        limits._key(SECRET, "channel", ("chn_2",)),
        limits._key(SECRET, "widget", ("chn_1",)),
        limits._key(SECRET + "x", "channel", ("chn_1",)),
        limits._key(SECRET, "channel", ("chn", "_1")),
    }
    assert len(keys) == 5


def test_a_subjects_key_is_hashed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []

    def counting(secret_key: str, purpose: str, value: str) -> str:
        hashed.append(value)
        return keyed_hash(secret_key, purpose, value)

    monkeypatch.setattr(limits, "keyed_hash", counting)
    for _ in range(3):
        limits._key(SECRET, "channel", ("chn_1",))
    assert hashed == ["chn_1"]
