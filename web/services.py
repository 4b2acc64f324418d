"""The running parts of one hub process, built from the settings in one place.

Configuration picks the implementations here and nowhere else: SQLite or Postgres behind
the store, ``MemoryBus``/``MemoryPresence`` or their Redis twins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.bus import Bus, MemoryBus, OnMessage, OnReconnect
from hub.presence import Clock, MemoryPresence, Presence, RedisPresence
from hub.redis_bus import RedisBus
from hub.service import Hub
from storage import migrate
from storage.db import make_engine, sessionmaker
from storage.store import SqlStore
from web import flow_runner, metrics, provider_origins
from web.config import Settings

log = logging.getLogger("inviaro.services")
PRESENCE_HEARTBEATS = 3

Hook = Callable[..., Awaitable[None]]


@dataclass(eq=False)
class Services:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    store: SqlStore
    hub: Hub
    presence: Presence
    extras: dict[str, Any] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, *, migrate_schema: bool = True) -> Services:
        engine = make_engine(settings.database_url)
        if migrate_schema:
            await migrate.upgrade(engine)
        store = SqlStore(engine, observe=_observe_commit)
        redis_url = settings.redis_url

        def make_bus(on_message: OnMessage, on_reconnect: OnReconnect) -> Bus:
            if redis_url:
                return RedisBus(redis_url, on_message, on_reconnect)
            return MemoryBus(on_message, on_reconnect)

        presence = make_presence(settings)
        hub = Hub.create(
            store,
            presence,
            make_bus,
            queue_bound=settings.send_queue_frames,
            heartbeat_s=int(settings.heartbeat_s),
            observe_accept=metrics.ACCEPT_SECONDS.observe,
        )
        await hub.bus.start()
        services = cls(
            settings=settings,
            engine=engine,
            db=sessionmaker(engine),
            http=_outside_client(settings),
            store=store,
            hub=hub,
            presence=presence,
        )
        flow_runner.install(services)
        services.spawn(services._heartbeat(), "heartbeat")
        metrics.watch(services)
        return services

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        self.tasks.append(asyncio.ensure_future(coro))
        self.tasks[-1].set_name(f"inviaro-{name}")

    def hooks(self, name: str) -> list[Hook]:
        """Named callbacks other parts register (e.g. ``on_contact_erased``)."""
        hooks: list[Hook] = self.extras.setdefault(name, [])
        return hooks

    async def run_hooks(self, name: str, *args: Any) -> None:
        for hook in self.hooks(name):
            try:
                await hook(*args)
            except Exception:
                log.exception("hook %s failed", name)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                await self.hub.heartbeat()
                await self.run_hooks("on_heartbeat")
            except Exception:
                log.exception("heartbeat failed")

    async def redis_ok(self) -> bool:
        ping = getattr(self.hub.bus, "ping", None)
        if ping is None:
            return True
        try:
            return bool(await ping())
        except Exception:
            return False

    async def close(self) -> None:
        """Close sockets with 1012 (reconnect and resume), commit what is queued, let go."""
        runner = self.extras.get("flow_runner")
        if runner is not None:  # let the flow events in flight finish (bounded)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(runner.idle(), 10)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.hub.registry.close_all(1012)
        await self.hub.close()
        await self.store.close()
        await self.hub.bus.close()
        closer = getattr(self.presence, "close", None)
        if closer is not None:
            await closer()
        await self.http.aclose()
        await self.engine.dispose()


def make_presence(settings: Settings, clock: Clock | None = None, prefix: str = "") -> Presence:
    """Presence whose entries live three heartbeats (each heartbeat renews them): a process
    is taken for gone, and its operators for offline, only once it missed two."""
    ttl_s = PRESENCE_HEARTBEATS * settings.heartbeat_s
    if settings.redis_url:
        return RedisPresence(settings.redis_url, ttl_s, clock or time.time, prefix)
    return MemoryPresence(ttl_s, clock or time.monotonic)


def _outside_client(settings: Settings) -> httpx.AsyncClient:
    """The one client for calls to providers; ``INVIARO_PROVIDER_ORIGINS`` says where to."""
    origins = dict(settings.provider_origins)
    if origins:
        log.warning(
            "INVIARO_PROVIDER_ORIGINS is set: calls to %s go to stand-ins",
            ", ".join(sorted(origins)),
        )
    return provider_origins.client(origins, httpx.Timeout(10.0, connect=5.0))


def _observe_commit(batch: int, seconds: float) -> None:
    metrics.WRITER_BATCH.observe(batch)
    metrics.WRITER_COMMIT_SECONDS.observe(seconds)
