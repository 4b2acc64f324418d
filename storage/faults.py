"""Which database failures are an outage rather than a bug, and saying so once per outage.

An outage is the database not answering (refused, lost or terminated connections, a
server shutting down or starting up, too many connections) or not answering in time (a
lock or statement timeout). It is nobody's request's fault: callers answer "retry later"
(HTTP 503, WebSocket 1013) and :class:`StorageHealth` logs one line when it begins and one
when it ends, not a traceback per request.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import exc as sa_exc

log = logging.getLogger("inviaro.storage")

# SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57 operator
# intervention (admin shutdown, cannot connect now, statement timeout).
_OUTAGE_CLASSES = ("08", "53", "57")
_LOST_CODES = ("57P01", "57P02", "57P03")  # the server ended or refuses the session
LOCK_TIMEOUT = "55P03"  # lock_not_available: lock_timeout expired
_UNIQUE_VIOLATION = "23505"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: SQLAlchemy's ``orig`` and explicit causes."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__
    return seen


def _sqlstate(exc: BaseException) -> str | None:
    for e in _chain(exc):
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def connection_lost(exc: BaseException) -> bool:
    """The connection itself is gone (network, server restart, terminated backend)."""
    for e in _chain(exc):
        if isinstance(e, OSError):
            return True
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if type(e).__name__ == "InterfaceError" and "connection is closed" in str(e):
            return True
    state = _sqlstate(exc)
    return state is not None and (state.startswith("08") or state in _LOST_CODES)


def driver_gave_up(exc: BaseException) -> bool:
    """The driver will not go on with this connection (asyncpg's own InterfaceError or
    InternalClientError: its protocol state broke, e.g. when the server ended the session
    between two statements). A new connection is the cure; the database may be fine."""
    return any(type(e).__name__ in ("InterfaceError", "InternalClientError") for e in _chain(exc))


def lock_timed_out(exc: BaseException) -> bool:
    return _sqlstate(exc) == LOCK_TIMEOUT


def unique_violation(exc: BaseException) -> bool:
    if _sqlstate(exc) == _UNIQUE_VIOLATION:
        return True
    return any(isinstance(e, sa_exc.IntegrityError) and "UNIQUE" in str(e) for e in _chain(exc))


def is_outage(exc: BaseException) -> bool:
    """The database is unreachable, overloaded or stalled: retry later, not a bug."""
    if connection_lost(exc):
        return True
    for e in _chain(exc):
        if isinstance(e, TimeoutError | sa_exc.TimeoutError):  # pool checkout, asyncio
            return True
        if isinstance(e, sa_exc.OperationalError) and "database is locked" in str(e):
            return True  # SQLite's busy timeout
    state = _sqlstate(exc)
    return state is not None and (state[:2] in _OUTAGE_CLASSES or state == LOCK_TIMEOUT)


def describe(exc: BaseException) -> str:
    """A short name for the failure, for the one log line: no parameters, no SQL."""
    state = _sqlstate(exc)
    root = _chain(exc)[-1]
    return f"{type(root).__name__}" + (f" {state}" if state else "")


class StorageHealth:
    """Whether the database is answering, as this process last saw it.

    :meth:`failed` logs a warning only when an outage begins, :meth:`ok` one line when it
    ends: a 20-second outage under load is two lines, not one per request."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning(
                "the database is unavailable (%s): answering 503 and closing sockets with "
                "1013 until it is back",
                describe(exc),
            )

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning(
                "the database is available again (after %.1f s)",
                time.monotonic() - self.down_since,
            )
            self.down_since = None
