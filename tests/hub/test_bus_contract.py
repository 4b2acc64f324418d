"""The Bus contract, written once and run against MemoryBus and RedisBus."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from hub.bus import BusUnavailable
from hub.fanout import conversation_topic, workspace_topic
from tests.hub.conftest import BusFactory, Recorder, topic


async def test_subscriber_receives_published_payload(make_bus: BusFactory) -> None:
    rec = Recorder()
    bus = await make_bus(rec)
    t = topic()
    await bus.subscribe(t)
    await bus.publish(b"\x81\xa1a\x01", t)
    await rec.until(lambda: len(rec.got) == 1)
    assert rec.got == [(t, b"\x81\xa1a\x01")]


async def test_one_publish_reaches_every_topic_it_names(make_bus: BusFactory) -> None:
    rec = Recorder()
    bus = await make_bus(rec)
    a, b = topic(), topic()
    await bus.subscribe(a)
    await bus.subscribe(b)
    await bus.publish(b"both", a, b)
    await rec.until(lambda: len(rec.got) == 2)
    assert sorted(rec.got) == sorted([(a, b"both"), (b, b"both")])


async def test_unsubscribed_topics_are_not_delivered(make_bus: BusFactory) -> None:
    rec = Recorder()
    bus = await make_bus(rec)
    quiet, marker = topic(), topic()
    await bus.subscribe(marker)
    await bus.publish(b"no", quiet)
    await bus.publish(b"done", marker)
    await rec.until(lambda: bool(rec.payloads(marker)))
    assert rec.payloads(quiet) == []


async def test_subscriptions_are_reference_counted(make_bus: BusFactory) -> None:
    rec = Recorder()
    bus = await make_bus(rec)
    t, marker = topic(), topic()
    await bus.subscribe(marker)
    await bus.subscribe(t)
    await bus.subscribe(t)
    await bus.unsubscribe(t)
    await bus.publish(b"still", t)
    await rec.until(lambda: bool(rec.payloads(t)))
    await bus.unsubscribe(t)
    await bus.unsubscribe(t)  # an extra unsubscribe is ignored
    await bus.publish(b"gone", t)
    await bus.publish(b"done", marker)
    await rec.until(lambda: bool(rec.payloads(marker)))
    assert rec.payloads(t) == [b"still"]


async def test_publish_order_is_preserved_per_topic(make_bus: BusFactory) -> None:
    rec = Recorder()
    bus = await make_bus(rec)
    t = topic()
    await bus.subscribe(t)
    sent = [str(i).encode() for i in range(200)]
    for payload in sent:
        await bus.publish(payload, t)
    await rec.until(lambda: len(rec.got) == len(sent))
    assert rec.payloads(t) == sent


async def test_a_running_bus_answers_its_readiness_ping(make_bus: BusFactory) -> None:
    bus = await make_bus(Recorder())
    assert await bus.ping() is True


async def test_publish_after_close_raises_bus_unavailable(make_bus: BusFactory) -> None:
    bus = await make_bus(Recorder())
    await bus.close()
    with pytest.raises(BusUnavailable):
        await bus.publish(b"x", topic())


async def test_concurrent_publishes_from_one_publisher_arrive_in_order(
    make_bus: BusFactory,
) -> None:
    rec = Recorder()
    bus = await make_bus(rec)
    t = topic()
    await bus.subscribe(t)
    payloads = [str(n).encode() for n in range(500)]
    await asyncio.gather(*(bus.publish(p, t) for p in payloads))
    await rec.until(lambda: len(rec.payloads(t)) == len(payloads))
    assert rec.payloads(t) == payloads


async def test_publish_many_arrives_in_its_order_across_a_workspaces_topics(
    make_bus: BusFactory,
) -> None:
    rec = Recorder()
    bus = await make_bus(rec)
    ws = f"w{uuid.uuid4().hex}"
    workspace, conversation = workspace_topic(ws), conversation_topic(ws, "c1")
    await bus.subscribe(workspace)
    await bus.subscribe(conversation)
    await bus.publish_many([(b"message", (workspace, conversation)), (b"conv", (workspace,))])
    await rec.until(lambda: len(rec.got) == 3)
    assert rec.got == [(workspace, b"message"), (conversation, b"message"), (workspace, b"conv")]


async def test_publish_many_after_close_raises_bus_unavailable(make_bus: BusFactory) -> None:
    bus = await make_bus(Recorder())
    await bus.close()
    with pytest.raises(BusUnavailable):
        await bus.publish_many([(b"x", (topic(),))])
