"""Commands of many callers share pipelines; each caller gets its own replies or error."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from hub.bus import BusUnavailable
from hub.redis_pipeline import Pipeliner


@pytest.fixture
async def client(hub_redis_url: str):  # type: ignore[no-untyped-def]
    redis = Redis.from_url(hub_redis_url, decode_responses=True)
    yield redis
    await redis.aclose()


async def test_concurrent_callers_each_get_their_own_replies_in_order(client: Redis) -> None:
    key = f"test:{uuid.uuid4().hex}"
    calls = Pipeliner(client, "test")
    replies = await asyncio.gather(*(calls.execute(("INCR", key), ("GET", key)) for _ in range(50)))
    assert sorted(int(got) for got, _ in replies) == list(range(1, 51))
    assert all(int(got) == int(read) for got, read in replies)
    await client.delete(key)
    await calls.close()


async def test_a_refused_command_fails_only_its_caller(client: Redis) -> None:
    key = f"test:{uuid.uuid4().hex}"
    await client.set(key, "not a number")
    calls = Pipeliner(client, "test")
    refused, fine = await asyncio.gather(
        calls.execute(("INCR", key)), calls.execute(("GET", key)), return_exceptions=True
    )
    assert isinstance(refused, BusUnavailable)
    assert fine == ["not a number"]
    await client.delete(key)
    await calls.close()


async def test_after_close_a_call_is_refused_as_unavailable(client: Redis) -> None:
    calls = Pipeliner(client, "test")
    await calls.close()
    with pytest.raises(BusUnavailable):
        await calls.execute(("PING",))
