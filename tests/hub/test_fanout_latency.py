"""Fan-out latency: a publish is stamped with its time, and each process observes, once
per delivery, how long it took from the publish to its frames written to the sockets (and,
as a stage of that, to the bus's hand-over); the publish's own round trip is observed too."""

from __future__ import annotations

import time

import msgpack

from hub.bus import MemoryBus
from hub.fanout import Registry, conversation_topic
from hub.presence import MemoryPresence
from hub.service import Hub, stamp, unstamp
from tests.helpers import inbound
from tests.hub.test_fanout import Socket
from tests.hub.test_service import MemoryStore


def test_a_stamped_payload_gives_back_the_frame_and_its_time() -> None:
    frame = msgpack.packb({"type": "pong"})
    assert unstamp(stamp(frame, 1234.5)) == (frame, 1234.5)


def test_an_unstamped_payload_is_delivered_as_it_is() -> None:
    frame = msgpack.packb({"type": "pong"})
    assert unstamp(frame) == (frame, None)


async def test_each_delivery_is_observed_once_after_its_frames_are_written() -> None:
    observed: list[float] = []
    registry = Registry(MemoryBus(lambda topic, payload: None), observe_fanout=observed.append)
    socks = [Socket() for _ in range(3)]
    for sock in socks:
        await registry.join(registry.connect("msgpack", sock.send, sock.close), "ws:w")
    registry.deliver("ws:w", msgpack.packb({"type": "pong"}), time.time() - 0.05)
    for sock in socks:
        await sock.until(1)
    assert len(observed) == 1 and 0.05 <= observed[0] < 5


async def test_a_delivery_nobody_here_listens_to_is_not_observed() -> None:
    observed: list[float] = []
    registry = Registry(MemoryBus(lambda topic, payload: None), observe_fanout=observed.append)
    registry.deliver("ws:nobody", msgpack.packb({"type": "pong"}), time.time())
    sock = Socket()
    await registry.join(registry.connect("msgpack", sock.send, sock.close), "ws:w")
    registry.deliver("ws:w", msgpack.packb({"type": "pong"}))  # unstamped: not timed
    await sock.until(1)
    assert observed == []


async def test_an_accepted_message_observes_its_publish_once_and_each_bus_hop_it_took() -> None:
    stages: list[str] = []
    hub = Hub.create(
        MemoryStore({"c1": "w1"}),
        MemoryPresence(ttl_s=75),
        MemoryBus,
        observe_stage=lambda stage, seconds: stages.append(stage),
    )
    await hub.bus.subscribe(conversation_topic("w1", "c1"))  # the workspace's topic: nobody here
    await hub.accept(inbound(text="hi", conversation_id="c1"))
    assert sorted(stages) == ["bus", "publish"]
