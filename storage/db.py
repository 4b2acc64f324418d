"""Engines and sessions: one place that knows how to talk to SQLite and to Postgres."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession


class BadDatabaseURL(ValueError):
    """The configured URL is not one this hub can use."""


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean asyncpg; ``sqlite://`` means aiosqlite."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://"):
        url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BadDatabaseURL(f"DATABASE_URL is not a database URL: {exc}") from None
    if parsed.drivername not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise BadDatabaseURL(
            f"DATABASE_URL uses {parsed.drivername!r}; use postgresql://… or sqlite:///…"
        )
    return url


def is_sqlite(engine_or_url: AsyncEngine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalize_url(url)
    # A failed statement's message would otherwise carry its parameters (emails, names,
    # phone numbers, password hashes) into the log with the traceback.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        create_private_file(make_url(url).database)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers work beside the one writer; foreign keys make cascades real.
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            # Take the write lock up front, so two transactions never deadlock upgrading.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        ping_when_idle(engine)
    return engine


IDLE_PING_S = 5.0  # a pooled connection unused this long is pinged before it is handed out


def ping_when_idle(engine: AsyncEngine, idle_s: float = IDLE_PING_S) -> None:
    """Hand out no pooled connection known dead, for a fraction of ``pool_pre_ping``'s cost.

    ``pool_pre_ping`` pings on every checkout: three round trips (BEGIN, a query,
    ROLLBACK), 19% of a busy hub's CPU when each ingested message's flow check took a
    connection. Here a connection whose socket the driver saw close (a database restart,
    a terminated backend) is replaced without a round trip, and only one that sat unused
    for ``idle_s`` (long enough for a quiet network to have cut it) is pinged. A connection
    that dies in between fails its statement once; the driver's disconnect handling then
    empties the pool (SQLAlchemy invalidates every connection older than the error)."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _used(_dbapi_connection: Any, record: Any) -> None:
        record.info["inviaro_checked_in"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the database closed this connection")
        since = record.info.get("inviaro_checked_in")
        if since is not None and time.monotonic() - since > idle_s:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as exc:
                raise DisconnectionError("a pooled connection did not answer a ping") from exc


def create_private_file(path: str | None) -> None:
    """Create the SQLite database file readable by its owner only (0600), before SQLite
    opens it: it holds every message and contact. SQLite gives its WAL and shared-memory
    files the database file's mode. An existing file, or an in-memory database, is left
    as it is."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose statements each commit on their own, for lookups on hot paths
    (a token checked per socket): on Postgres no BEGIN and ROLLBACK round trips around
    them. SQLite keeps its transaction, whose BEGIN IMMEDIATE keeps writers apart."""
    async with engine.connect() as conn:
        if not is_sqlite(engine):
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn
        await conn.commit()
