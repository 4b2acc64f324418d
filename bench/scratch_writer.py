"""A scratch Postgres database with one workspace and one custom channel, for the writer
benches (``writer_cpu.py``, ``writer_latency.py``); dropped afterwards.

Imported after the caller has put the checkout to measure first on ``sys.path``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.ids import new_id
from storage import migrate
from storage import models as m
from storage.db import make_engine, sessionmaker

PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Scratch:
    admin: asyncpg.Connection  # on the server's postgres database
    db: str
    engine: AsyncEngine
    workspace_id: str
    channel_id: str


@asynccontextmanager
async def scratch_workspace(prefix: str) -> AsyncIterator[Scratch]:
    db = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}")
    try:
        await migrate.upgrade(engine)
        ws_id, channel = new_id("ws_"), new_id("ch_")
        async with sessionmaker(engine)() as session, session.begin():
            session.add(m.Workspace(id=ws_id, name="Bench", allowed_origins=[]))
            await session.flush()
            session.add(
                m.Channel(id=channel, workspace_id=ws_id, kind="custom", name="B", config={})
            )
        yield Scratch(admin, db, engine, ws_id, channel)
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
