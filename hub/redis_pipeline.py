"""Redis commands from many callers, sent together: one round trip per round.

While one round trip is under way, whatever callers queue meanwhile goes out in the next
round, in order. Under load a command then costs a share of a round trip and a caller
never waits for a free connection: one is enough. The bus publishes and presence updates
through it.

On a single Redis the Pipeliner owns that one connection, as the bus's listener owns its
own, and drives it at connection level: a round is packed once, written once and its
replies read under one timeout for the whole round. redis-py's ``Pipeline`` would build an
object per round, check a connection out of the pool, and wrap the write and every reply
in a timeout of its own, which was most of a round's CPU (docs/internals.md). On a Redis
Cluster a round goes through the cluster client's pipeline, which splits it by node and
runs the nodes' parts in parallel, so a round costs the slowest node's round trip.

Both the rounds and the bus's listener read their replies with :class:`Replies`, straight
from the connection's hiredis reader, not through redis-py's ``read_response``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis._parsers.hiredis import NOT_ENOUGH_DATA
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import (
    ConnectionError,
    DataError,
    RedisClusterException,
    RedisError,
)

from hub.bus import BusUnavailable

log = logging.getLogger(__name__)

Command = tuple[Any, ...]


def pack(commands: Sequence[Command]) -> bytes:
    """The commands in Redis's protocol. hiredis's packer in C, called straight: redis-py's
    ``pack_commands`` wraps it in several Python passes over every argument (a third of a
    round's CPU). Arguments are ``str`` (as UTF-8), ``bytes``, ``int`` or ``float``."""
    try:
        return b"".join(map(hiredis.pack_command, commands))
    except TypeError as err:  # an argument of another type
        raise DataError(str(err)) from None


class Replies:
    """A connected connection's replies, read straight from redis-py's hiredis reader.

    redis-py's ``read_response`` costs three coroutines and a host string per reply, and
    for a RESP3 push (every pub/sub message) a logger lookup too: more than hiredis takes
    to parse it. Here a chunk read from the socket is split into every reply it holds in
    one loop. An error reply comes back as a value (a ``ResponseError``), not raised. Unlike
    ``read_response`` it never disconnects: a caller whose read fails midway does."""

    __slots__ = ("_parser", "_reader")

    def __init__(self, conn: AbstractConnection) -> None:
        self._parser = cast(Any, conn._parser)  # redis-py's hiredis parser, on conn's stream
        self._reader = self._parser._reader  # a hiredis.Reader, made when conn connected

    async def ready(self) -> list[Any]:
        """Every reply parsed so far; reads from the socket first if there is none."""
        gets = self._reader.gets
        reply = gets()
        while reply is NOT_ENOUGH_DATA:
            await self._parser.read_from_socket()
            reply = gets()
        ready = [reply]
        while (reply := gets()) is not NOT_ENOUGH_DATA:
            ready.append(reply)
        return ready

    async def read(self, count: int) -> list[Any]:
        """The next ``count`` replies."""
        replies: list[Any] = []
        while len(replies) < count:
            replies += await self.ready()
        return replies


class OwnConnection:
    """Rounds on one connection of the Pipeliner's own, made like the client's but read
    under one timeout per round (the client's ``socket_timeout``) instead of one per reply."""

    def __init__(self, client: Redis) -> None:
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
        self._timeout: float | None = kwargs.get("socket_timeout")
        self._conn: AbstractConnection = pool.connection_class(**{**kwargs, "socket_timeout": None})

    async def round(self, commands: Sequence[Command]) -> list[Any]:
        """Replies in order, a refused command's :class:`ResponseError` in its place."""
        reused = self._conn.is_connected
        try:
            return await self._round(commands)
        except ConnectionError:
            if not reused:
                raise
            # The connection may be one a Redis restart left stale: once more, on a new one.
            return await self._round(commands)

    async def _round(self, commands: Sequence[Command]) -> list[Any]:
        conn = self._conn
        # A write or read cut short (a timeout) would leave the connection out of step:
        # redis-py's send disconnects it then, and so does the read here, so the next round
        # starts on a fresh one.
        async with asyncio.timeout(self._timeout):
            if not conn.is_connected:
                await conn.connect()  # type: ignore[no-untyped-call]
            await conn.send_packed_command(pack(commands), check_health=False)
            try:
                replies = await Replies(conn).read(len(commands))
            except BaseException:  # a read cut short would leave the connection out of step
                await conn.disconnect(nowait=True)
                raise
        for reply in replies:
            if isinstance(reply, ConnectionError):  # e.g. LOADING: as read_response raises
                raise reply
        return replies

    async def close(self) -> None:
        await self._conn.disconnect()


class ClusterPipeline:
    """Rounds through the cluster client's pipeline: by node, nodes in parallel."""

    def __init__(self, client: RedisCluster) -> None:
        self._client = client

    async def round(self, commands: Sequence[Command]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return await pipe.execute(raise_on_error=False)

    async def close(self) -> None:
        """The client's connections are the client's to close."""


class Pipeliner:
    def __init__(self, client: Redis | RedisCluster, what: str) -> None:
        self._rounds = (
            ClusterPipeline(client) if isinstance(client, RedisCluster) else OwnConnection(client)
        )
        self._what = what  # names the caller in errors: "cannot publish to Redis: …"
        self._queue: list[tuple[tuple[Command, ...], asyncio.Future[list[Any]]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def execute(self, *commands: Command) -> list[Any]:
        """Run ``commands`` in order, after anything queued before them; their replies.

        Raises :class:`hub.bus.BusUnavailable` when Redis cannot be reached or answers a
        command with an error."""
        if self._closed:
            raise BusUnavailable(f"{self._what}: closed")
        done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append((commands, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            round_ = [command for commands, _ in batch for command in commands]
            try:
                replies = await self._rounds.round(round_)
            except Exception as err:  # fails this round's callers, strands none
                if not isinstance(err, (RedisError, RedisClusterException, OSError)):
                    log.exception("%s: a Redis round failed unexpectedly", self._what)
                replies = [err] * len(round_)
            except BaseException:  # cancelled: its callers must not wait for ever
                for _, done in batch:
                    if not done.done():
                        done.set_exception(BusUnavailable(f"{self._what}: cancelled"))
                raise
            start = 0
            for commands, done in batch:
                mine, start = replies[start : start + len(commands)], start + len(commands)
                if done.done():
                    continue
                error = next((r for r in mine if isinstance(r, Exception)), None)
                if error is not None:
                    done.set_exception(BusUnavailable(f"{self._what}: {error}"))
                else:
                    done.set_result(mine)

    async def close(self) -> None:
        """Finish what is under way; what is queued after that fails with BusUnavailable."""
        self._closed = True
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        for _, done in self._queue:
            if not done.done():
                done.set_exception(BusUnavailable(f"{self._what}: closed"))
        self._queue.clear()
        await self._rounds.close()
