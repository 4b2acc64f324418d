"""Login throttling per account and per address, kept in the database (``login_failures``).

Every attempt first records itself as a failure and commits, and only then counts: of many
parallel attempts, the k-th to commit sees at least k rows, so no burst slips past a limit
on SQLite or Postgres. A successful (or refused-as-throttled) attempt deletes its own rows
again. Limits are sliding windows, never a permanent lock: the rightful user waits at most
``ACCOUNT_WINDOW`` after the last wrong guess. Keys are keyed hashes, so the table holds
neither emails nor addresses in the clear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.model import as_utc, utcnow
from storage.models import LoginFailure
from web.config import Settings
from web.crypto import keyed_hash

ACCOUNT_LIMIT = 10  # failures per account per window
ACCOUNT_WINDOW = timedelta(minutes=15)
ACCOUNT_HOURLY_LIMIT = 100  # the hard ceiling the issue asks for
ADDRESS_LIMIT = 50  # failures per client address per window
ADDRESS_WINDOW = timedelta(minutes=15)
KEEP = timedelta(hours=2)  # rows older than this are pruned on the way


@dataclass(frozen=True, slots=True)
class Attempt:
    """One login attempt's pending failure rows; settle it with :func:`succeeded`."""

    ids: tuple[str, ...]
    retry_after: int | None  # seconds, when the attempt is refused as throttled


def _keys(settings: Settings, email: str, ip: str | None) -> tuple[str, str | None]:
    account = "a:" + keyed_hash(settings.secret_key, "throttle", email.lower())
    address = "i:" + keyed_hash(settings.secret_key, "throttle", ip) if ip else None
    return account, address


async def _over(
    db: AsyncSession, key: str, window: timedelta, limit: int, now: datetime
) -> int | None:
    """Seconds until ``key`` is below ``limit`` failures in ``window`` again, or None."""
    since = now - window
    count = await db.scalar(
        select(func.count()).where(LoginFailure.key == key, LoginFailure.at > since)
    )
    if (count or 0) <= limit:
        return None
    # The attempt that will age out of the window next, once the excess is gone.
    oldest = await db.scalar(
        select(LoginFailure.at)
        .where(LoginFailure.key == key, LoginFailure.at > since)
        .order_by(LoginFailure.at.desc())
        .offset(limit)  # own row is newest; the limit-th before it must age out
        .limit(1)
    )
    if oldest is None:
        return 1
    remaining = (as_utc(oldest) + window - now).total_seconds()
    return max(1, math.ceil(remaining))


async def begin(db: AsyncSession, settings: Settings, email: str, ip: str | None) -> Attempt:
    """Record the attempt, then decide whether it may proceed (``retry_after`` is None)."""
    now = utcnow()
    account, address = _keys(settings, email, ip)
    rows = [LoginFailure(key=account, at=now)]
    if address:
        rows.append(LoginFailure(key=address, at=now))
    db.add_all(rows)
    await db.execute(delete(LoginFailure).where(LoginFailure.at < now - KEEP))
    await db.commit()
    ids = tuple(row.id for row in rows)
    waits = [
        await _over(db, account, ACCOUNT_WINDOW, ACCOUNT_LIMIT, now),
        await _over(db, account, timedelta(hours=1), ACCOUNT_HOURLY_LIMIT, now),
    ]
    if address:
        waits.append(await _over(db, address, ADDRESS_WINDOW, ADDRESS_LIMIT, now))
    retry = max((w for w in waits if w is not None), default=None)
    if retry is not None:
        await succeeded(db, Attempt(ids, None))  # a refused attempt tried nothing
    return Attempt(ids, retry)


async def succeeded(db: AsyncSession, attempt: Attempt) -> None:
    """The attempt was not a failure after all: forget its rows (commits)."""
    await db.execute(delete(LoginFailure).where(LoginFailure.id.in_(attempt.ids)))
    await db.commit()
