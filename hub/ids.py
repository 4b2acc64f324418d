"""Opaque, time-ordered ids (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32).

Time order keeps btree inserts local and makes ids sortable for cursors; the random part
makes them unguessable enough to serve as public identifiers.

A message takes up to four ids (message, contact, identity, conversation), so both halves
are cheap: the time's ten digits are worked out once a millisecond, and the sixteen random
digits come from the CSPRNG in bulk, one byte a digit (its low five bits: 256 is a multiple
of 32, so each digit stays uniform and the id keeps its 80 random bits). A forked child
drops the digits its parent drew, so the two never hand out the same ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every pair of digits (ten bits): the time's ten digits are five lookups.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_TIME_SHIFTS = range(40, -1, -10)
_DIGIT_OF_BYTE = bytes.maketrans(bytes(range(256)), bytes(_ALPHABET * 8, "ascii"))
_RANDOM_DIGITS = 16
_IDS_PER_DRAW = 256
_SLICES = [
    slice(at, at + _RANDOM_DIGITS)
    for at in range(0, _RANDOM_DIGITS * _IDS_PER_DRAW, _RANDOM_DIGITS)
]

# (millisecond, its ten digits) and the random digits drawn and not yet used. Both are
# replaced whole, never changed in place, and ``next`` on a ``map`` runs no Python code:
# a thread never sees half of either nor takes random digits another thread took.
_clock: tuple[int, str] = (-1, "")
_random: Iterator[str] = iter(())


def new_id(prefix: str = "") -> str:
    """A new 26-character id, optionally behind a short type prefix such as ``msg_``."""
    global _clock
    ms = time.time_ns() // 1_000_000
    at, digits = _clock
    if ms != at:
        digits = "".join([_PAIRS[ms >> shift & 1023] for shift in _TIME_SHIFTS])
        _clock = ms, digits
    return prefix + digits + (next(_random, None) or _draw())


def _draw() -> str:
    """Draw the random digits of the next ids, and hand back the first."""
    global _random
    digits = os.urandom(_RANDOM_DIGITS * _IDS_PER_DRAW).translate(_DIGIT_OF_BYTE).decode()
    _random = map(digits.__getitem__, _SLICES)
    return next(_random)


def _forget() -> None:
    """In a forked child: the parent holds the same digits and hands them out itself."""
    global _random
    _random = iter(())


os.register_at_fork(after_in_child=_forget)
