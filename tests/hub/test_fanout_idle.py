"""An idle Connection holds no queue and no task; a writer task exists only while a send
has to wait, and order holds across the hand-over."""

from __future__ import annotations

import asyncio

from hub.fanout import Connection
from tests.hub.test_fanout import Socket, connect, make_registry


def busy(conn: Connection) -> bool:
    return conn._queue is not None or conn._task is not None


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_idle_connection_keeps_no_queue_and_no_task() -> None:
    registry, _ = make_registry()
    sock = Socket()
    conn = connect(registry, "json", sock)
    assert not busy(conn)
    for i in range(3):
        conn.push(str(i))
    assert busy(conn)  # written on this turn of the loop, not inside push
    await settle()
    assert sock.sent == ["0", "1", "2"] and not busy(conn)
    conn.push("3")
    await settle()
    assert sock.sent == ["0", "1", "2", "3"] and not busy(conn)


async def test_a_send_that_waits_hands_over_to_a_writer_in_order() -> None:
    registry, _ = make_registry()
    sock = Socket(blocked=True)
    conn = connect(registry, "json", sock)
    conn.push("a")
    await settle()
    assert conn._task is not None and not conn._task.done()  # waiting inside send("a")
    conn.push("b")
    conn.push("c")
    sock.gate.set()
    await sock.until(3)
    await settle()
    assert sock.sent == ["a", "b", "c"] and not busy(conn)
    conn.push("d")  # idle again: written without a task
    await settle()
    assert sock.sent[-1] == "d" and not busy(conn)


async def test_a_send_that_fails_marks_the_connection_broken() -> None:
    registry, _ = make_registry()

    async def send(data: str | bytes) -> None:
        raise ConnectionResetError

    async def close(code: int) -> None:
        pass

    conn = registry.connect("json", send, close)
    conn.push("x")
    await settle()
    assert conn.close_code == 1006 and not busy(conn)
    conn.push("y")  # ignored once broken
    assert conn._queue is None
    await registry.disconnect(conn)


async def test_closing_while_a_send_waits_cancels_it() -> None:
    registry, _ = make_registry()
    sock = Socket(blocked=True)
    conn = connect(registry, "json", sock)
    conn.push("a")
    await settle()
    conn.close(1008)
    await conn.wait_closed()
    assert sock.closed_with == 1008 and sock.sent == []
    await registry.disconnect(conn)
    assert registry.counters.sockets_open == 0


async def test_one_flush_per_turn_for_every_socket() -> None:
    registry, _ = make_registry()
    socks = [Socket() for _ in range(50)]
    conns = [connect(registry, "msgpack", s) for s in socks]
    for conn in conns:
        await registry.join(conn, "ws:w")
    for i in range(5):
        registry.deliver("ws:w", bytes([i]))
    await settle()
    assert all(s.sent == [bytes([i]) for i in range(5)] for s in socks)
    assert not any(busy(c) for c in conns)
