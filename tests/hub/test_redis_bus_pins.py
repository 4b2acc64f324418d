"""What hub/redis_bus.py relies on below redis-py's public pub/sub API, pinned.

The bus's listener owns one subscriber connection at the connection level (no ``PubSub``
object, no pool checkout, no health-check pings on a connection that only reads): made by
the pool, connected, written with ``send_command`` and read straight from the hiredis
reader of redis-py's parser (``hub.redis_pipeline.Replies``), not with ``read_response``. A
redis-py release that renames a call, drops a keyword or changes the shape of a pub/sub
reply fails here, by name, instead of leaving a bus that silently hears nothing.

The publishing side (``hub.redis_pipeline.OwnConnection``) owns one connection too, made
with the client pool's class and keywords but no socket timeout, written once per round
with hiredis's packer and read under one timeout per round, with ``Replies`` too; what
that relies on is pinned at the end.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any

import hiredis
import pytest
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

from hub.redis_bus import RedisBus
from hub.redis_pipeline import Pipeliner
from tests.hub.conftest import WAIT_S, topic

pytestmark = pytest.mark.redis


def test_the_connection_calls_keep_the_keywords_the_bus_passes() -> None:
    params = {
        name: set(inspect.signature(getattr(AbstractConnection, name)).parameters)
        for name in ("read_response", "disconnect")
    }
    # send_command takes **kwargs and reads check_health from them itself.
    assert '"check_health"' in inspect.getsource(AbstractConnection.send_command)
    assert "push_request" in params["read_response"]
    assert "nowait" in params["disconnect"]
    assert isinstance(inspect.getattr_static(AbstractConnection, "is_connected"), property)
    assert callable(getattr(ConnectionPool, "make_connection", None))


@pytest.fixture
async def connection(hub_redis_url: str) -> AsyncIterator[AbstractConnection]:
    pool = ConnectionPool.from_url(hub_redis_url, socket_timeout=None, client_name="pins")
    conn: AbstractConnection = pool.make_connection()  # type: ignore[no-untyped-call]
    await conn.connect()  # type: ignore[no-untyped-call]
    yield conn
    await conn.disconnect(nowait=True)
    await pool.disconnect()


async def test_a_pooled_connection_is_made_unchecked_out_and_connected(
    connection: AbstractConnection,
) -> None:
    assert connection.is_connected


async def test_subscribe_confirmations_and_messages_read_as_three_item_lists(
    connection: AbstractConnection, hub_redis_url: str
) -> None:
    name = topic()
    await connection.send_command("SUBSCRIBE", name, check_health=False)
    confirmed = await asyncio.wait_for(connection.read_response(push_request=True), WAIT_S)
    assert isinstance(confirmed, list) and len(confirmed) == 3
    assert bytes(confirmed[0]) == b"subscribe" and confirmed[1] == name.encode()
    publisher = Redis.from_url(hub_redis_url)
    try:
        assert await publisher.publish(name, b"\x81\xa1k\x01") == 1
    finally:
        await publisher.aclose()
    message = await asyncio.wait_for(connection.read_response(push_request=True), WAIT_S)
    assert isinstance(message, list) and len(message) == 3
    assert bytes(message[0]) == b"message" and message[1] == name.encode()
    assert bytes(message[2]) == b"\x81\xa1k\x01"


async def test_a_disconnected_connection_says_so(connection: AbstractConnection) -> None:
    await connection.disconnect(nowait=True)
    assert not connection.is_connected


# hub/redis_pipeline.py (OwnConnection): the publishing connection, driven the same way.


def test_a_pool_hands_out_the_class_and_keywords_its_connections_are_made_with() -> None:
    pool = ConnectionPool.from_url("redis://127.0.0.1:1/0", socket_timeout=2.0)
    kwargs = pool.connection_kwargs
    assert kwargs["socket_timeout"] == 2.0
    conn = pool.connection_class(**{**kwargs, "socket_timeout": None})
    assert isinstance(conn, AbstractConnection) and conn.socket_timeout is None
    send = inspect.signature(AbstractConnection.send_packed_command).parameters
    assert "check_health" in send


@pytest.mark.parametrize(
    "command",
    [
        ("PUBLISH", "w1.c1", b"\x81\xa1k\x01"),
        ("EVAL", "return 1", 2, "k1", "k2", 1733600000.123456, 0.5, -3),
        ("SET", "clé", "välue"),
    ],
)
def test_hiredis_packs_a_command_as_redis_py_does(command: tuple[Any, ...]) -> None:
    conn = ConnectionPool.from_url("redis://127.0.0.1:1/0").make_connection()  # type: ignore[no-untyped-call]
    assert hiredis.pack_command(command) == b"".join(conn.pack_command(*command))


async def test_a_refused_command_raises_from_its_read_and_the_next_reply_reads_in_step(
    connection: AbstractConnection,
) -> None:
    key = topic()
    commands: list[tuple[Any, ...]] = [("SET", key, "text"), ("INCR", key), ("ECHO", "next")]
    packed = b"".join(map(hiredis.pack_command, commands))
    await connection.send_packed_command(packed, check_health=False)
    assert await asyncio.wait_for(connection.read_response(), WAIT_S) is not None
    with pytest.raises(ResponseError):
        await asyncio.wait_for(connection.read_response(), WAIT_S)
    assert await asyncio.wait_for(connection.read_response(), WAIT_S) == b"next"
    assert connection.is_connected


async def test_a_read_cut_short_disconnects_its_connection(connection: AbstractConnection) -> None:
    reading = asyncio.create_task(connection.read_response())  # nothing was sent: it waits
    await asyncio.sleep(0)
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    assert not connection.is_connected


async def test_a_connect_cut_short_in_its_handshake_leaves_the_connection_disconnected() -> None:
    asked = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the handshake's first command came: never answer it
        asked.set()
        await reader.read()  # until the client hangs up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = ConnectionPool.from_url(f"redis://127.0.0.1:{port}/0", client_name="pins")
    conn: AbstractConnection = pool.connection_class(**pool.connection_kwargs)
    connecting = asyncio.create_task(conn.connect())  # type: ignore[no-untyped-call]
    await asyncio.wait_for(asked.wait(), WAIT_S)
    connecting.cancel()
    await asyncio.gather(connecting, return_exceptions=True)
    assert not conn.is_connected
    server.close()
    await server.wait_closed()


# hub/redis_pipeline.py (Replies): both connections' replies, read below read_response.


async def test_a_connected_connection_reads_through_a_hiredis_reader_fed_from_its_socket(
    connection: AbstractConnection,
) -> None:
    parser = connection._parser
    assert isinstance(parser, _AsyncHiredisParser)
    assert isinstance(parser._reader, hiredis.Reader)
    assert parser._reader.gets() is NOT_ENOUGH_DATA  # nothing asked, nothing there
    await connection.send_packed_command(hiredis.pack_command(("ECHO", "fed")))
    await asyncio.wait_for(parser.read_from_socket(), WAIT_S)
    assert parser._reader.gets() == b"fed"


async def test_the_reader_hands_an_error_reply_back_as_a_response_error(
    connection: AbstractConnection,
) -> None:
    commands = [("GET", topic()), ("NO-SUCH-COMMAND",), ("ECHO", "next")]
    await connection.send_packed_command(b"".join(map(hiredis.pack_command, commands)))
    replies: list[Any] = []
    while len(replies) < 3:
        await asyncio.wait_for(connection._parser.read_from_socket(), WAIT_S)
        while (reply := connection._parser._reader.gets()) is not NOT_ENOUGH_DATA:
            replies.append(reply)
    assert replies[0] is None and isinstance(replies[1], ResponseError)
    assert replies[2] == b"next"


async def test_the_bus_and_the_pipeliner_never_read_through_read_response(
    hub_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read_response is the slow way round (hub.redis_pipeline.Replies)")

    got: list[bytes] = []
    arrived = asyncio.Event()

    def on_message(name: str, payload: bytes) -> None:
        got.append(payload)
        arrived.set()

    bus = RedisBus(hub_redis_url, on_message)
    client = Redis.from_url(hub_redis_url)
    calls = Pipeliner(client, "pins")
    await bus.start()
    name = topic()
    await bus.subscribe(name)  # every connection made first: its handshake is redis-py's
    await bus.publish(b"first", topic())
    await calls.execute(("PING",))
    monkeypatch.setattr(AbstractConnection, "read_response", refused)
    try:
        await asyncio.wait_for(bus.publish(b"straight", name), WAIT_S)
        await asyncio.wait_for(arrived.wait(), WAIT_S)
        echoed = await asyncio.wait_for(calls.execute(("ECHO", "round"), ("ECHO", "trip")), WAIT_S)
    finally:
        monkeypatch.undo()
        await calls.close()
        await client.aclose()
        await bus.close()
    assert got == [b"straight"] and echoed == [b"round", b"trip"]
