"""Commands of many callers share round trips; each caller gets its own replies or error.

On a single Redis the Pipeliner owns its connection and reads a round under one timeout."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.bus import BusUnavailable
from hub.redis_pipeline import Pipeliner
from tests.system.conftest import private_redis_server

pytestmark = pytest.mark.redis


@pytest.fixture
async def client(hub_redis_url: str):  # type: ignore[no-untyped-def]
    redis = Redis.from_url(hub_redis_url, decode_responses=True)
    yield redis
    await redis.aclose()


def named_client(url: str, **options: Any) -> tuple[Redis, str]:
    """A client whose connections CLIENT LIST shows under a name of their own."""
    name = f"inviaro-test-{uuid.uuid4().hex[:12]}"
    return Redis.from_url(url, client_name=name, socket_timeout=2.0, **options), name


async def named_connections(admin: Redis, name: str) -> list[dict[str, Any]]:
    return [c for c in await admin.client_list() if c.get("name") == name]


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


async def test_an_argument_of_another_type_fails_its_round_as_unavailable(client: Redis) -> None:
    calls = Pipeliner(client, "test")
    with pytest.raises(BusUnavailable):
        await calls.execute(("SET", f"test:{uuid.uuid4().hex}", None))
    assert await calls.execute(("ECHO", "fine")) == ["fine"]
    await calls.close()


async def test_after_close_a_call_is_refused_as_unavailable(client: Redis) -> None:
    calls = Pipeliner(client, "test")
    await calls.close()
    with pytest.raises(BusUnavailable):
        await calls.execute(("PING",))


async def test_a_round_arms_one_timer_however_many_replies_it_reads(
    hub_redis_url: str, client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"test:{uuid.uuid4().hex}"
    timed, _ = named_client(hub_redis_url)  # a socket timeout: every read is bounded
    calls = Pipeliner(timed, "test")
    await calls.execute(("PING",))  # connected: what is counted is a round alone
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    call_at = loop.call_at

    def counted(when: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        armed.append(when)
        return call_at(when, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", counted)
    await calls.execute(*(("INCR", key) for _ in range(50)))
    monkeypatch.undo()
    assert len(armed) == 1
    await client.delete(key)
    await calls.close()
    await timed.aclose()


async def test_the_pipeliner_owns_one_connection_and_closes_it(
    hub_redis_url: str, client: Redis
) -> None:
    named, name = named_client(hub_redis_url)
    calls = Pipeliner(named, "test")
    await asyncio.gather(*(calls.execute(("PING",)) for _ in range(50)))
    assert len(await named_connections(client, name)) == 1
    await calls.close()
    assert await named_connections(client, name) == []
    await named.aclose()


async def test_a_connection_redis_dropped_is_replaced_within_the_round(
    hub_redis_url: str, client: Redis
) -> None:
    named, name = named_client(hub_redis_url)
    calls = Pipeliner(named, "test")
    await calls.execute(("PING",))
    [ours] = await named_connections(client, name)
    await client.execute_command("CLIENT", "KILL", "ID", ours["id"])  # type: ignore[no-untyped-call]
    assert await calls.execute(("ECHO", "again")) == [b"again"]
    await calls.close()
    await named.aclose()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[str]:
    async with private_redis_server(tmp_path) as server:
        yield server.url


async def test_a_round_redis_does_not_answer_in_time_fails_and_the_next_gets_its_own_replies(
    private_redis: str,
) -> None:
    admin = Redis.from_url(private_redis)
    slow = Redis.from_url(private_redis, socket_timeout=0.2)
    calls = Pipeliner(slow, "test")
    key = f"test:{uuid.uuid4().hex}"
    assert await calls.execute(("INCR", key)) == [1]
    await admin.execute_command("CLIENT", "PAUSE", "30000", "WRITE")  # type: ignore[no-untyped-call]
    with pytest.raises(BusUnavailable):
        await calls.execute(("INCR", key), ("INCR", key))
    await admin.execute_command("CLIENT", "UNPAUSE")  # type: ignore[no-untyped-call]
    (got,) = await calls.execute(("GET", key))
    assert int(got) in (1, 3)  # the timed-out round may still have run; its replies are not ours
    assert await calls.execute(("ECHO", "mine")) == [b"mine"]
    await calls.close()
    await slow.aclose()
    await admin.aclose()


async def test_an_unforeseen_failure_of_a_round_fails_its_callers_and_the_next_round_runs(
    client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Pipeliner(client, "test")
    real = calls._rounds.round

    async def broken(commands: Any) -> list[Any]:
        monkeypatch.setattr(calls._rounds, "round", real)
        raise RuntimeError("a bug in the round")

    monkeypatch.setattr(calls._rounds, "round", broken)
    with pytest.raises(BusUnavailable):
        await asyncio.wait_for(calls.execute(("PING",)), 5)
    assert await asyncio.wait_for(calls.execute(("ECHO", "fine")), 5) == ["fine"]
    await calls.close()


async def test_a_cancelled_round_fails_its_callers_instead_of_leaving_them_waiting(
    client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Pipeliner(client, "test")

    async def cancelled(commands: Any) -> list[Any]:
        raise asyncio.CancelledError

    monkeypatch.setattr(calls._rounds, "round", cancelled)
    with pytest.raises(BusUnavailable):
        await asyncio.wait_for(calls.execute(("PING",)), 5)
    await calls.close()
