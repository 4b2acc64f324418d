"""What the hub's publishes cost on Redis: everything one accepted message (or one batch of
receipts) rings goes out in one round trip, in order. Counted on a private redis-server by
its read events (``INFO stats``), which no other client touches meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgpack
import pytest
import redis.asyncio as redis

from hub.fanout import operator_topic, workspace_topic
from hub.model import Author, Inbound
from hub.presence import MemoryPresence
from hub.redis_bus import RedisBus
from hub.service import Hub, unstamp
from hub.store import Receipt
from tests.hub.conftest import Recorder
from tests.hub.test_service import MemoryStore
from tests.system.conftest import private_redis_server

pytestmark = pytest.mark.redis


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[str]:
    """A redis-server of this test's own."""
    async with private_redis_server(tmp_path) as server:
        yield server.url


@pytest.fixture
async def hub(private_redis: str) -> AsyncIterator[Hub]:
    store = MemoryStore({"c1": "w1"})
    hub = Hub.create(
        store, MemoryPresence(ttl_s=75), lambda on, back: RedisBus(private_redis, on, back)
    )
    await hub.bus.start()
    await hub.bus.subscribe("warm")  # the listener's connection is made and set up
    await hub.bus.publish(b"warm", "warm")  # and the publishing one
    yield hub
    await hub.close()
    await hub.bus.close()


@pytest.fixture
async def observer(private_redis: str) -> AsyncIterator[Recorder]:
    """Another process's view of the bus: the workspace's and operator op2's topics."""
    rec = Recorder()
    bus = RedisBus(private_redis, rec.on_message)
    await bus.start()
    await bus.subscribe(workspace_topic("w1"))
    await bus.subscribe(operator_topic("w1", "op2"))
    yield rec
    await bus.close()


class RoundTrips:
    """Read events the server processed between ``start`` and ``count``, less our own."""

    def __init__(self, url: str) -> None:
        self._admin = redis.Redis.from_url(url)
        self._before = 0

    async def _reads(self) -> int:
        return int((await self._admin.info("stats"))["total_reads_processed"])

    async def start(self) -> None:
        self._before = await self._reads()

    async def count(self) -> int:
        return await self._reads() - self._before - 1  # this INFO is a read too

    async def close(self) -> None:
        await self._admin.aclose()


@pytest.fixture
async def round_trips(private_redis: str) -> AsyncIterator[RoundTrips]:
    counter = RoundTrips(private_redis)
    yield counter
    await counter.close()


def note(text: str) -> Inbound:
    return Inbound(
        workspace_id="w1",
        channel_id="ch1",
        direction="out",
        author=Author("operator", "op1"),
        text=text,
        conversation_id="c1",
        private=True,
    )


def contact_message() -> Inbound:
    return Inbound(
        workspace_id="w1",
        channel_id="ch1",
        direction="in",
        author=Author("contact", "ct1"),
        text="hello",
        conversation_id="c1",
    )


async def named_op2(workspace_id: str, text: str) -> list[str]:
    return ["op1", "op2"]  # the author names themself too: they get no mention frame


def frame_types(rec: Recorder) -> list[tuple[str, str]]:
    return [(t, msgpack.unpackb(unstamp(p)[0])["type"]) for t, p in rec.got]


async def test_a_message_and_its_new_conversation_go_out_in_one_round_trip(
    hub: Hub, round_trips: RoundTrips
) -> None:
    await round_trips.start()
    result = await hub.accept(contact_message())
    assert result.conversation is not None  # a message frame (two topics) and a conversation's
    assert await round_trips.count() == 1


async def test_a_note_its_mentions_and_its_conversation_go_out_in_one_round_trip(
    hub: Hub, round_trips: RoundTrips
) -> None:
    hub.resolve_mentions = named_op2
    await round_trips.start()
    await hub.accept(note("@Pia look"))
    assert await round_trips.count() == 1


async def test_another_process_gets_a_note_then_its_mention_then_its_conversation(
    hub: Hub, observer: Recorder
) -> None:
    hub.resolve_mentions = named_op2
    await hub.accept(note("@Pia look"))
    await observer.until(lambda: len(observer.got) == 3)
    ws, op2 = workspace_topic("w1"), operator_topic("w1", "op2")
    assert frame_types(observer) == [(ws, "message"), (op2, "mention"), (ws, "conversation")]


async def test_a_batch_of_receipts_goes_out_in_one_round_trip_in_order(
    hub: Hub, round_trips: RoundTrips, observer: Recorder
) -> None:
    receipts = [Receipt("w1", "c1", f"m{n}", "delivered") for n in range(5)]
    await round_trips.start()
    await hub.publish_receipts(receipts)
    assert await round_trips.count() == 1
    await observer.until(lambda: len(observer.got) == 5)
    ids = [msgpack.unpackb(unstamp(p)[0])["message_id"] for _, p in observer.got]
    assert ids == [r.message_id for r in receipts]
