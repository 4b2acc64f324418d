"""Fan-out: encode once per format, bounded queues, reference-counted subscriptions."""

from __future__ import annotations

import asyncio

import msgpack
import orjson

from hub.bus import MemoryBus
from hub.codec import Format
from hub.fanout import (
    DEFAULT_QUEUE_BYTES,
    Connection,
    Registry,
    conversation_topic,
    operator_topic,
    workspace_topic,
)
from tests.hub.conftest import WAIT_S


class Socket:
    """A fake socket end: records what was sent and how it was closed."""

    def __init__(self, blocked: bool = False) -> None:
        self.sent: list[str | bytes] = []
        self.closed_with: int | None = None
        self.gate = asyncio.Event()
        if not blocked:
            self.gate.set()
        self._changed = asyncio.Event()

    async def send(self, data: str | bytes) -> None:
        await self.gate.wait()
        self.sent.append(data)
        self._changed.set()

    async def close(self, code: int) -> None:
        self.closed_with = code
        self._changed.set()

    async def until_closed(self) -> None:
        async def loop() -> None:
            while self.closed_with is None:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), WAIT_S)

    async def until(self, n: int) -> None:
        async def loop() -> None:
            while len(self.sent) < n:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), WAIT_S)


def make_registry(
    queue_bound: int = 256, queue_bytes: int = DEFAULT_QUEUE_BYTES
) -> tuple[Registry, MemoryBus]:
    registry: Registry | None = None

    def on_message(topic: str, payload: bytes) -> None:
        assert registry is not None
        registry.deliver(topic, payload)

    bus = MemoryBus(on_message)
    registry = Registry(bus, queue_bound, queue_bytes)
    return registry, bus


def connect(registry: Registry, fmt: Format, sock: Socket) -> Connection:
    return registry.connect(fmt, sock.send, sock.close)


def test_topic_names_carry_their_workspace_in_braces() -> None:
    assert workspace_topic("w1") == "ws:{w1}"
    assert conversation_topic("w1", "c1") == "conv:{w1}:c1"
    assert operator_topic("w1", "o1") == "op:{w1}:o1"


async def test_payload_is_encoded_once_per_format_and_shared() -> None:
    registry, bus = make_registry()
    socks = [Socket() for _ in range(40)]
    conns = [connect(registry, "json" if i % 2 else "msgpack", s) for i, s in enumerate(socks)]
    for conn in conns:
        await registry.join(conn, "ws:w")
    payload = msgpack.packb({"type": "pong"})
    await bus.publish(payload, "ws:w")
    for s in socks:
        await s.until(1)
    assert registry.counters.encodes == 1
    json_frames = {id(s.sent[0]) for s in socks[1::2]}
    assert len(json_frames) == 1 and orjson.loads(socks[1].sent[0]) == {"type": "pong"}
    assert all(s.sent[0] is payload for s in socks[::2])
    assert registry.counters.frames_out == 40


async def test_a_payload_published_to_two_topics_is_encoded_once_for_both() -> None:
    registry, bus = make_registry()
    operator, visitor = Socket(), Socket()
    await registry.join(connect(registry, "json", operator), "ws:w")
    await registry.join(connect(registry, "json", visitor), "conv:w:c")
    payload = msgpack.packb({"type": "message", "message": {"text": "hi"}})
    await bus.publish(payload, "ws:w", "conv:w:c")  # one delivery to each topic
    await operator.until(1)
    await visitor.until(1)
    assert registry.counters.encodes == 1
    assert operator.sent[0] is visitor.sent[0]


async def test_slow_socket_is_closed_1013_while_fast_one_keeps_receiving() -> None:
    registry, bus = make_registry(queue_bound=8)
    slow, fast = Socket(blocked=True), Socket()
    for sock in (slow, fast):
        await registry.join(connect(registry, "msgpack", sock), "ws:w")
    for i in range(50):
        await bus.publish(msgpack.packb(i), "ws:w")
        await asyncio.sleep(0)  # let writers run: the fast one drains, the slow one cannot
    await fast.until(50)
    assert [msgpack.unpackb(d) for d in fast.sent] == list(range(50))
    assert slow.closed_with == 1013 and slow.sent == []
    assert registry.counters.overloaded == 1


async def test_first_join_subscribes_and_last_leave_unsubscribes() -> None:
    registry, bus = make_registry()
    a, b = connect(registry, "json", Socket()), connect(registry, "json", Socket())
    await registry.join(a, "conv:c")
    await registry.join(b, "conv:c")
    await registry.join(b, "conv:c")  # joining twice counts once
    assert bus.topics() == {"conv:c"}
    await registry.leave(a, "conv:c")
    assert bus.topics() == {"conv:c"}
    await registry.disconnect(b)
    assert bus.topics() == set() and registry.topics() == []


async def test_close_topic_and_close_all() -> None:
    registry, _ = make_registry()
    s1, s2 = Socket(), Socket()
    c1, c2 = connect(registry, "json", s1), connect(registry, "json", s2)
    await registry.join(c1, "conv:gone")
    registry.close_topic("conv:gone", 1008)
    await c1.wait_closed()
    assert s1.closed_with == 1008 and s2.closed_with is None
    await registry.close_all(1012)
    assert s2.closed_with == 1012 and c2.closed
    assert registry.counters.sockets_open == 2
    await registry.disconnect(c1)
    await registry.disconnect(c2)
    assert registry.counters.sockets_open == 0


async def test_paced_push_waits_for_room_instead_of_overflowing() -> None:
    registry, _ = make_registry(queue_bound=4)
    sock = Socket()
    conn = connect(registry, "json", sock)
    for i in range(100):
        await conn.push_paced(str(i))
    await sock.until(100)
    assert sock.sent == [str(i) for i in range(100)] and not conn.closed


async def test_redelivered_frames_queue_behind_live_ones_and_never_overflow() -> None:
    registry, _ = make_registry(queue_bound=4)
    sock = Socket(blocked=True)
    conn = connect(registry, "json", sock)
    for i in range(50):
        conn.feed(f"r{i}")
    conn.push("l0")
    conn.push("l1")
    await asyncio.sleep(0)
    conn.push("l2")  # live frames go first, while the writer waits on the socket
    sock.gate.set()
    await sock.until(53)
    assert sock.sent == ["l0", "l1", "l2"] + [f"r{i}" for i in range(50)]
    assert not conn.closed and registry.counters.overloaded == 0


async def test_a_socket_holding_too_many_bytes_unsent_is_cut_1013_after_a_grace() -> None:
    registry, _ = make_registry(queue_bound=256, queue_bytes=100)
    sock = Socket(blocked=True)
    conn = connect(registry, "json", sock)
    for _ in range(3):  # three frames, far under the frame bound, over the byte bound
        conn.push("x" * 60)
    await sock.until_closed()
    assert sock.closed_with == 1013 and registry.counters.overloaded == 1
