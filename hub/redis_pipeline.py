"""Redis commands from many callers, sent together: one pipeline per round trip.

While one round trip is under way, whatever callers queue meanwhile goes out in the next
pipeline, in order. Under load a command then costs a share of a round trip and a caller
never waits for a free connection: one is enough. The bus publishes and presence updates
through it. On a Redis Cluster the client's pipeline splits each round by node and runs
the nodes' parts in parallel, so a round costs the slowest node's round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from hub.bus import BusUnavailable

Command = tuple[Any, ...]


class Pipeliner:
    def __init__(self, client: Redis | RedisCluster, what: str) -> None:
        self._client = client
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
            pipe = self._client.pipeline(transaction=False)
            for commands, _ in batch:
                for command in commands:
                    pipe.execute_command(*command)
            try:
                replies = await pipe.execute(raise_on_error=False)
            except (RedisError, RedisClusterException, OSError) as err:
                replies = [err] * sum(len(commands) for commands, _ in batch)
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
