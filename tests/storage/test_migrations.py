"""The migrations build exactly the schema the models describe, on SQLite and Postgres."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import migrate
from storage.models import Base
from storage.search import include_name


async def test_the_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": True, "include_name": include_name}
                ),
                Base.metadata,
            )
        )
    assert diff == []


async def test_migrating_again_changes_nothing(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    await migrate.upgrade(engine)
