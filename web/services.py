"""The running parts of one hub process, built from the settings in one place."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import migrate
from storage.db import make_engine, sessionmaker
from web.config import Settings

log = logging.getLogger("inviaro.services")


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings, *, migrate_schema: bool = True) -> Services:
        engine = make_engine(settings.database_url)
        if migrate_schema:
            await migrate.upgrade(engine)
        http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        return cls(settings=settings, engine=engine, db=sessionmaker(engine), http=http)

    async def redis_ok(self) -> bool:
        return False

    def refresh_gauges(self) -> None:
        pass

    async def close(self) -> None:
        await self.http.aclose()
        await self.engine.dispose()
