"""Password hashing with argon2id, run off the event loop.

Parameters are OWASP's recommended argon2id configuration (m=19 MiB, t=2, p=1): about
75 ms of one core here, which keeps logins affordable on a small self-hosted box. Raise
them below and every operator is rehashed at their next login. Hashing runs in a worker
thread: a login never stalls the sockets served by the same loop.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; this only bounds the work a request can ask for

hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)

# Verified when the email is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = hasher.hash("inviaro-dummy-password")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; with ``stored=None`` spends the same time
    and answers False."""
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's: rehash on login."""
    try:
        return hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True
