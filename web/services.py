"""The running parts of one hub process, built from the settings in one place.

Configuration picks the implementations here and nowhere else: SQLite or Postgres behind
the store, ``MemoryBus``/``MemoryPresence``/``MemoryLimiter`` or their Redis twins (on a
Redis Cluster, ``ClusterBus`` and the same presence and limiter on a cluster client). The bus
also carries the control topic of :mod:`web.gone` ("this principal is gone"), routed here
to the process's :class:`hub.gone.Holders`; the heartbeat runs the sockets' safety-net sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.bus import Bus, MemoryBus, OnMessage, OnReconnect
from hub.gone import Holders
from hub.presence import Clock, MemoryPresence, Presence, RedisPresence
from hub.ratelimit import LeasedLimiter, Limiter, MemoryLimiter, RedisLimiter, SharedBuckets
from hub.redis_bus import RedisBus
from hub.redis_cluster import is_cluster_url
from hub.redis_cluster_bus import ClusterBus
from hub.service import Hub
from hub.session import ReplyCheck
from storage import faults, migrate
from storage.db import make_engine, sessionmaker
from storage.group_commit import Committed
from storage.models import Channel
from storage.store import SqlStore
from web import (
    consent_gate,
    csat,
    flow_runner,
    gone,
    media_inbound,
    media_links,
    mentions,
    metrics,
    processing,
    provider_origins,
    window,
)
from web.auth.channels import load_channel
from web.channel_cache import ChannelCache
from web.config import Settings
from web.sweep import sweep
from web.ws_frames import server_frame

log = logging.getLogger("inviaro.services")
PRESENCE_HEARTBEATS = 3


@dataclass(eq=False)
class Services:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    store: SqlStore
    hub: Hub
    presence: Presence
    holders: Holders  # this process's sockets by what they depend on (web.gone)
    limiter: Limiter
    visitor_budgets: SharedBuckets  # the send budget a visitor's sockets share
    channels: ChannelCache  # live channels for the webhook and ingest doors (1 s at most)
    # Sessions whose operator sockets sent more than pings since the last sweep.
    socket_activity: set[str] = field(default_factory=set)
    reply_check: ReplyCheck | None = None  # shared by every operator socket (web.window)
    outbox_backlog: int = 0  # set by the worker's jobs, exported by web.metrics
    outbox_worker_started: bool = False
    flow_runner: flow_runner.FlowRunner | None = None  # set by web.flow_runner.install
    csat_answers: csat.Answers | None = None  # set by web.csat.install
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Set when the bus is back from an outage: control events may have been lost meanwhile.
    sweep_now: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def start(cls, settings: Settings, *, migrate_schema: bool = True) -> Services:
        engine = make_engine(settings.database_url)
        if migrate_schema:
            await migrate.upgrade(engine)
        store = SqlStore(engine, observe=_observe_commit, max_backlog=settings.writer_max_backlog)
        redis_url = settings.redis_url
        holders = Holders()
        sweep_now = asyncio.Event()
        db = sessionmaker(engine)

        async def lookup_channel(channel_id: str) -> Channel | None:
            async with db() as session:
                return await load_channel(session, channel_id)

        channels = ChannelCache(lookup_channel)

        def make_bus(on_message: OnMessage, on_reconnect: OnReconnect) -> Bus:
            def route(topic: str, payload: bytes) -> None:
                if topic == gone.CONTROL_TOPIC:
                    event = gone.received(holders, payload)
                    if event is not None:
                        channels.forget(event)
                else:
                    on_message(topic, payload)

            def reconnected(since: datetime) -> None:
                on_reconnect(since)
                sweep_now.set()

            if redis_url and is_cluster_url(redis_url):
                return ClusterBus(redis_url, route, reconnected)
            if redis_url:
                return RedisBus(redis_url, route, reconnected)
            return MemoryBus(route, reconnected)

        presence = make_presence(settings)
        hub = Hub.create(
            store,
            presence,
            make_bus,
            queue_bound=settings.send_queue_frames,
            heartbeat_s=int(settings.heartbeat_s),
            observe_accept=metrics.ACCEPT_SECONDS.observe,
            observe_fanout=metrics.FANOUT_SECONDS.observe,
            observe_stage=_observe_stage,
            framer=server_frame,
        )
        await hub.bus.start()
        await hub.bus.subscribe(gone.CONTROL_TOPIC)
        hub.resolve_mentions = mentions.resolver(sessionmaker(engine))
        services = cls(
            settings=settings,
            engine=engine,
            db=db,
            http=_outside_client(settings),
            store=store,
            hub=hub,
            presence=presence,
            holders=holders,
            channels=channels,
            sweep_now=sweep_now,
            limiter=LeasedLimiter(RedisLimiter(redis_url)) if redis_url else MemoryLimiter(),
            visitor_budgets=SharedBuckets(
                rate=settings.messages_per_10s / 10, burst=settings.messages_per_10s
            ),
        )
        # The socket-side checks, one callable each for every operator socket of the process.
        services.reply_check = window.reply_check(services)
        hub.resolve_attachments = media_links.resolver(services)
        hub.objection_check = processing.objection_check(services)
        hub.consent_check = consent_gate.consent_check(services)
        flow_runner.install(services)
        media_inbound.install(services)
        csat.install(services)
        services.spawn(services._heartbeat(), "heartbeat")
        metrics.watch(services)
        return services

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        self.tasks.append(asyncio.ensure_future(coro))
        self.tasks[-1].set_name(f"inviaro-{name}")

    async def _heartbeat(self) -> None:
        """Presence every heartbeat, and the sockets' sweep after it; the sweep also runs at
        once when the bus comes back from an outage (control events may have been lost),
        without delaying the next presence refresh."""
        loop = asyncio.get_running_loop()
        every = self.settings.heartbeat_s
        due = loop.time() + every
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sweep_now.wait(), max(0.0, due - loop.time()))
            self.sweep_now.clear()
            if loop.time() >= due:
                due = loop.time() + every
                try:
                    await self.hub.heartbeat()
                except Exception:
                    log.exception("heartbeat failed")
            try:
                await sweep(self)
            except Exception as exc:
                if faults.is_outage(exc):  # said once per outage, not once per sweep
                    self.store.health.failed(exc)
                else:
                    log.exception("the sockets' sweep failed")

    async def redis_ok(self) -> bool:
        """Readiness of the bus (always True for the in-process one)."""
        try:
            return await self.hub.bus.ping()
        except Exception:  # readiness answers, whatever the bus does
            return False

    async def close(self) -> None:
        """Close sockets with 1012 (reconnect and resume), commit what is queued, let go."""
        runner = self.flow_runner
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
        await self.presence.close()
        await self.limiter.close()
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


_QUEUE_SECONDS = metrics.STAGE_SECONDS.labels("queue")


def _observe_commit(committed: Committed) -> None:
    metrics.WRITER_BATCH.observe(committed.size)
    metrics.WRITER_COMMIT_SECONDS.observe(committed.seconds)
    for wait in committed.waits:
        _QUEUE_SECONDS.observe(wait)


_STAGES = {stage: metrics.STAGE_SECONDS.labels(stage) for stage in ("publish", "bus")}


def _observe_stage(stage: str, seconds: float) -> None:
    _STAGES[stage].observe(seconds)
