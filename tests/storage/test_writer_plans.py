"""The writer's statements find their rows through indexes, whatever Postgres knew of the
tables when it planned them. Each is planned once per connection (a generic plan), on a
fresh database while its tables are still empty: a plan that scans a table there is kept
while the table grows, and each batch then reads all of it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.writer_postgres import PostgresWriterSql

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def writer_sql(engine: AsyncEngine) -> AsyncIterator[PostgresWriterSql]:
    sql = PostgresWriterSql()
    conn = await sql.connect(engine, lock_wait_s=1.0)
    try:
        yield sql
    finally:
        await conn.invalidate()
        await conn.close()


def scanned(node: dict[str, Any]) -> set[str]:
    """The tables a plan reads whole."""
    tables = {node["Relation Name"]} if node["Node Type"] == "Seq Scan" else set()
    for child in node.get("Plans", []):
        tables |= scanned(child)
    return tables


async def generic_plan(raw: asyncpg.Connection, sql: str) -> dict[str, Any]:
    """The plan the writer's connection runs ``sql`` with (EXPLAIN without running it)."""
    types = [t.name for t in (await raw.prepare(sql)).get_parameters()]
    await raw.execute(f"PREPARE planned AS {sql}")
    try:
        args = ", ".join(f"NULL::{t}" for t in types)
        plan = await raw.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE planned({args})")
    finally:
        await raw.execute("DEALLOCATE planned")
    [out] = plan if isinstance(plan, list) else json.loads(plan)
    return dict(out["Plan"])


async def test_the_writers_lookup_reads_no_table_whole(writer_sql: PostgresWriterSql) -> None:
    raw = writer_sql._driver()
    assert scanned(await generic_plan(raw, writer_sql._lookup.sql)) == set()


async def test_the_writers_write_reads_no_table_whole(writer_sql: PostgresWriterSql) -> None:
    raw = writer_sql._driver()
    assert scanned(await generic_plan(raw, writer_sql._write_plan.sql)) == set()


async def test_the_writers_other_statements_read_no_table_whole(
    writer_sql: PostgresWriterSql,
) -> None:
    raw = writer_sql._driver()
    for statement in writer_sql._compiled.values():
        assert scanned(await generic_plan(raw, statement.sql)) == set(), statement.sql
