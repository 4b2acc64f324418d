"""Presence entries outlive the gap between heartbeats, on every process."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import redis.asyncio

from hub.presence import RedisPresence
from web.config import load
from web.services import make_presence


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_an_operator_whose_process_keeps_its_heartbeat_never_goes_offline(
    redis_url: str,
) -> None:
    env = {"REDIS_URL": redis_url, "DATABASE_URL": "sqlite://", "INVIARO_SECRET_KEY": "k" * 40}
    settings = replace(load(env), heartbeat_s=30.0)
    clock = Clock()
    prefix = f"test:{uuid.uuid4().hex}:"  # this test's keys, apart from other processes'
    holder, other = (make_presence(settings, clock, prefix) for _ in range(2))
    assert isinstance(holder, RedisPresence)
    try:
        await holder.online("w", "op1", "c1")
        for _ in range(4):  # heartbeats every 30 s: the other process sweeps in between
            clock.now += 25
            assert await other.refresh() == []
            clock.now += 5
            await holder.refresh()
        assert await other.who("w") == {"op1"}
    finally:
        await holder.close()
        await other.close()
        client = redis.asyncio.Redis.from_url(redis_url)
        await client.delete(*[key async for key in client.scan_iter(f"{prefix}*")])
        await client.aclose()
