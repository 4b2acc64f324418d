"""Fan-out latency: a publish is stamped with its time, and each process observes, once
per delivery, how long it took from the publish to its frames written to the sockets."""

from __future__ import annotations

import time

import msgpack

from hub.bus import MemoryBus
from hub.fanout import Registry
from hub.service import stamp, unstamp
from tests.hub.test_fanout import Socket


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
