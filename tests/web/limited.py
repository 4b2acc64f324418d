"""Servers for the rate-limit tests: each limiter (in-process, or Redis when ``REDIS_URL`` is
set on the server), with the default limits or with some of them overridden."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import redis

from tests.conftest import REDIS_URL, LiveServer, make_settings, start_server, unavailable


def limiter_redis_url(kind: str) -> str | None:
    """None for the in-process limiter; the reachable test Redis for the Redis one."""
    if kind == "memory":
        return None
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        unavailable("Redis", type(exc).__name__)
    finally:
        client.close()
    return REDIS_URL


@contextlib.asynccontextmanager
async def server(
    db_url: str, redis_url: str | None, **settings: object
) -> AsyncIterator[LiveServer]:
    """A server of its own, for the length of a test or a module."""
    live, uvicorn_server, task = await start_server(make_settings(db_url, redis_url, **settings))
    try:
        yield live
    finally:
        uvicorn_server.should_exit = True
        await task
