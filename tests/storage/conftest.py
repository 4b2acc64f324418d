"""Storage fixtures: an engine on each backend and a fresh workspace with channels per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.ids import new_id
from storage import models as m
from storage.db import make_engine, sessionmaker
from storage.store import SqlStore


@pytest.fixture(scope="session")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def store(engine: AsyncEngine) -> AsyncIterator[SqlStore]:
    store = SqlStore(engine)
    yield store
    await store.close()


@dataclass
class Workspace:
    id: str
    widget: str
    whatsapp: str
    custom: str


async def make_workspace(engine: AsyncEngine) -> Workspace:
    ws = Workspace(new_id("ws_"), new_id("ch_"), new_id("ch_"), new_id("ch_"))
    async with sessionmaker(engine)() as session, session.begin():
        session.add(m.Workspace(id=ws.id, name="Acme", allowed_origins=[]))
        await session.flush()
        session.add_all(
            [
                m.Channel(id=ws.widget, workspace_id=ws.id, kind="widget", name="Site", config={}),
                m.Channel(
                    id=ws.whatsapp, workspace_id=ws.id, kind="whatsapp", name="WA", config={}
                ),
                m.Channel(id=ws.custom, workspace_id=ws.id, kind="custom", name="API", config={}),
            ]
        )
    return ws


@pytest.fixture
async def workspace(engine: AsyncEngine) -> Workspace:
    return await make_workspace(engine)
