"""With a framer, fan-out frames each payload once per format; a socket whose wire can take
frames now gets them straight, a run of them in one write; any other goes through ``send``,
and the order of everything a socket is sent holds across both ways."""

from __future__ import annotations

import asyncio

import msgpack
import pytest

from hub.bus import MemoryBus
from hub.codec import encode_json
from hub.fanout import WRITE_RUN_BYTES, Connection, Registry
from tests.hub.test_fanout import Socket

TOPIC = "ws:w"


def tagged(data: str | bytes) -> bytes:
    """A stand-in framer whose frames are easy to read back."""
    return b"F:" + (data.encode() if isinstance(data, str) else data)


class Wire:
    """A fake transport: records each write; ``open`` says whether it can take one now."""

    def __init__(self, log: list[str | bytes] | None = None) -> None:
        self.open = True
        self.writes: list[bytes] = []
        self.log = log if log is not None else []

    def write_frames(self, frames: bytes) -> bool:
        if not self.open:
            return False
        self.writes.append(frames)
        self.log.append(frames)
        return True


class LoggedSocket(Socket):
    """A Socket whose sends go into a log shared with a Wire."""

    def __init__(self, log: list[str | bytes]) -> None:
        super().__init__()
        self.log = log

    async def send(self, data: str | bytes) -> None:
        await super().send(data)
        self.log.append(data)


def framing_registry() -> tuple[Registry, list[str | bytes]]:
    framed: list[str | bytes] = []

    def framer(data: str | bytes) -> bytes:
        framed.append(data)
        return tagged(data)

    return Registry(MemoryBus(lambda topic, payload: None), framer=framer), framed


async def joined(registry: Registry, sock: Socket, wire: Wire | None, fmt: str) -> Connection:
    conn = registry.connect(fmt, sock.send, sock.close, wire)  # type: ignore[arg-type]
    await registry.join(conn, TOPIC)
    return conn


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def payload(n: int) -> bytes:
    packed: bytes = msgpack.packb({"type": "message", "n": n})
    return packed


async def test_each_payload_is_framed_once_per_format_however_many_sockets() -> None:
    registry, framed = framing_registry()
    for fmt in ("json", "msgpack") * 5:
        await joined(registry, Socket(), Wire(), fmt)
    registry.deliver(TOPIC, payload(1))
    await settle()
    assert sorted(map(type, framed), key=str) == [bytes, str]


async def test_a_writable_wire_gets_the_frames_of_a_turn_in_one_write() -> None:
    registry, _ = framing_registry()
    sock, wire = Socket(), Wire()
    await joined(registry, sock, wire, "msgpack")
    for n in range(3):
        registry.deliver(TOPIC, payload(n))
    await settle()
    assert wire.writes == [b"".join(tagged(payload(n)) for n in range(3))]
    assert sock.sent == []


async def test_a_socket_without_a_wire_gets_the_payloads_through_send() -> None:
    registry, _ = framing_registry()
    sock = Socket()
    await joined(registry, sock, None, "json")
    registry.deliver(TOPIC, payload(1))
    await settle()
    assert sock.sent == [encode_json({"type": "message", "n": 1})]
    assert type(sock.sent[0]) is str


async def test_a_wire_that_cannot_write_now_gets_the_payloads_through_send() -> None:
    registry, _ = framing_registry()
    sock, wire = Socket(), Wire()
    wire.open = False
    await joined(registry, sock, wire, "msgpack")
    registry.deliver(TOPIC, payload(1))
    await settle()
    assert wire.writes == [] and sock.sent == [payload(1)]
    assert type(sock.sent[0]) is bytes


async def test_a_wire_is_given_exact_bytes_from_the_topic_loop_and_from_a_queue() -> None:
    # A Framed is a bytes subclass; uvloop wraps anything but exact bytes in memoryviews on
    # every write (pinned in tests/web/test_ws_preframed.py), so the wire gets plain bytes.
    registry, _ = framing_registry()
    wire = Wire()
    conn = await joined(registry, Socket(), wire, "msgpack")
    registry.deliver(TOPIC, payload(1))  # idle: written in the one loop over the topic
    await settle()
    conn.push(b"reply")  # a frame for this socket alone: framed, written from its queue
    await settle()
    assert wire.writes == [tagged(payload(1)), tagged(b"reply")]
    assert [type(w) for w in wire.writes] == [bytes, bytes]


async def test_a_long_run_of_frames_is_written_in_writes_of_at_most_the_run_bound() -> None:
    registry, _ = framing_registry()
    sock, wire = Socket(), Wire()
    await joined(registry, sock, wire, "msgpack")
    big = b"x" * (WRITE_RUN_BYTES // 3 - 8)  # msgpack sockets get bus payloads as they are
    for _ in range(4):
        registry.deliver(TOPIC, big)
    await settle()
    assert [len(w) // len(tagged(big)) for w in wire.writes] == [3, 1]
    assert b"".join(wire.writes) == tagged(big) * 4


async def test_a_reply_is_framed_and_written_in_its_place_among_fan_out_frames() -> None:
    registry, framed = framing_registry()
    log: list[str | bytes] = []
    sock, wire = LoggedSocket(log), Wire(log)
    conn = await joined(registry, sock, wire, "msgpack")
    registry.deliver(TOPIC, payload(1))
    conn.push(b"reply")  # a frame meant for this socket alone
    registry.deliver(TOPIC, payload(2))
    registry.deliver(TOPIC, payload(3))
    await settle()
    assert b"reply" in framed and sock.sent == []  # nothing through send
    assert log == [b"".join(tagged(p) for p in (payload(1), b"reply", payload(2), payload(3)))]


async def test_a_socket_without_a_wire_is_sent_its_replies_unframed() -> None:
    registry, framed = framing_registry()
    sock = Socket()
    conn = await joined(registry, sock, None, "msgpack")
    conn.push(b"reply")
    await sock.until(1)
    assert sock.sent == [b"reply"] and framed == []


async def test_a_wire_that_stops_taking_frames_hands_the_rest_to_send_in_order() -> None:
    registry, _ = framing_registry()
    log: list[str | bytes] = []
    sock, wire = LoggedSocket(log), Wire(log)
    await joined(registry, sock, wire, "msgpack")
    big = b"x" * WRITE_RUN_BYTES
    registry.deliver(TOPIC, big)
    registry.deliver(TOPIC, b"after")
    write = wire.write_frames

    def write_then_fill_up(frames: bytes) -> bool:
        written = write(frames)
        wire.open = False  # the transport went past its high-water mark
        return written

    wire.write_frames = write_then_fill_up  # type: ignore[method-assign]
    await settle()
    assert log == [tagged(big), b"after"]


async def test_idle_sockets_get_a_turns_frames_in_one_write_each_without_a_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry, _ = framing_registry()
    wires = [Wire() for _ in range(5)]
    for wire in wires:
        await joined(registry, Socket(), wire, "msgpack")
    queued: list[Connection] = []
    monkeypatch.setattr(Connection, "_drain", lambda conn: queued.append(conn))
    registry.deliver(TOPIC, payload(1))
    registry.deliver(TOPIC, payload(2))
    await settle()
    assert queued == []  # written in the one loop over the topic's sockets
    assert all(w.writes == [tagged(payload(1)) + tagged(payload(2))] for w in wires)
    assert registry.counters.frames_out == 10


async def test_a_socket_that_joins_after_a_delivery_on_the_same_turn_does_not_get_it() -> None:
    registry, _ = framing_registry()
    early, late = Wire(), Wire()
    await joined(registry, Socket(), early, "msgpack")
    registry.deliver(TOPIC, payload(1))
    await joined(registry, Socket(), late, "msgpack")
    registry.deliver(TOPIC, payload(2))
    await settle()
    assert b"".join(early.writes) == tagged(payload(1)) + tagged(payload(2))
    assert late.writes == [tagged(payload(2))]


async def test_a_socket_that_leaves_after_a_delivery_on_the_same_turn_still_gets_it() -> None:
    registry, _ = framing_registry()
    wire = Wire()
    conn = await joined(registry, Socket(), wire, "msgpack")
    registry.deliver(TOPIC, payload(1))
    await registry.leave(conn, TOPIC)
    registry.deliver(TOPIC, payload(2))
    await settle()
    assert wire.writes == [tagged(payload(1))]


async def test_a_socket_closed_after_a_delivery_on_the_same_turn_gets_nothing_more() -> None:
    registry, _ = framing_registry()
    wire = Wire()
    conn = await joined(registry, Socket(), wire, "msgpack")
    registry.deliver(TOPIC, payload(1))
    conn.close(1008)
    await settle()
    assert wire.writes == []


async def test_a_delivery_made_while_the_turns_frames_are_written_is_written_too() -> None:
    registry, _ = framing_registry()
    first, second = Wire(), Wire()
    await joined(registry, Socket(), first, "msgpack")
    conn = registry.connect("msgpack", Socket().send, Socket().close, second)
    await registry.join(conn, "ws:other")
    write = first.write_frames

    def write_then_deliver(frames: bytes) -> bool:
        registry.deliver("ws:other", payload(2))  # say, a bus handler run from inside a write
        return write(frames)

    first.write_frames = write_then_deliver  # type: ignore[method-assign]
    registry.deliver(TOPIC, payload(1))
    await settle()
    assert second.writes == [tagged(payload(2))]
