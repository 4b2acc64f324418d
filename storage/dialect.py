"""The one SQL construct that differs between SQLite and Postgres here: INSERT with
ON CONFLICT clauses."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def dialect_insert(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An ``insert(table)`` of the connection's dialect (it has ``on_conflict_do_nothing``)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
