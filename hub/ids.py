"""Opaque, time-ordered ids (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32).

Time order keeps btree inserts local and makes ids sortable for cursors; the random part
makes them unguessable enough to serve as public identifiers.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str = "") -> str:
    """A new 26-character id, optionally behind a short type prefix such as ``msg_``."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))
