"""Opaque, time-ordered ids (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32).

Time order keeps btree inserts local and makes ids sortable for cursors; the random part
makes them unguessable enough to serve as public identifiers.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every pair of digits (ten bits), so an id is 13 lookups instead of 26 shifts and lookups.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_SHIFTS = range(120, -1, -10)


def new_id(prefix: str = "") -> str:
    """A new 26-character id, optionally behind a short type prefix such as ``msg_``.

    The 128 bits are 26 base32 digits (the first holds 3 bits), read two at a time: a
    message takes up to four ids (message, contact, identity, conversation)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return prefix + "".join([_PAIRS[value >> shift & 1023] for shift in _SHIFTS])
