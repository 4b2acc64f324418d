"""Who is online, per workspace, with entries that expire on their own.

An operator is online while at least one of their connections has a live entry. Entries
are kept alive by :meth:`Presence.refresh` (the hub's heartbeat); a process killed without
a goodbye simply stops refreshing, and its entries expire after ``ttl_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from hub.bus import BusUnavailable

Clock = Callable[[], float]
DEFAULT_TTL_S = 20.0
POOL_WAIT_S = 5.0  # how long a presence call waits for a free Redis connection
_SEP = "\x1f"  # between the workspace key and an operator id in a key name


class Presence(Protocol):
    """Expiring presence entries, one per (workspace, operator, connection).

    ``online``/``offline`` return True only when the operator's online state changed (their
    first connection came, their last one went): publish a ``presence`` frame only then.
    Redis-backed implementations raise :class:`hub.bus.BusUnavailable` when Redis is away.
    """

    async def online(self, workspace_id: str, operator_id: str, connection_id: str) -> bool: ...

    async def offline(self, workspace_id: str, operator_id: str, connection_id: str) -> bool: ...

    async def who(self, workspace_id: str) -> set[str]:
        """Operator ids with at least one live entry."""
        ...

    async def refresh(self) -> list[tuple[str, str]]:
        """Renew this process's entries (call every ``ttl_s / 3``) and sweep expired ones.

        Returns ``(workspace_id, operator_id)`` pairs that went offline because their last
        entry expired (a killed process); publish ``presence`` offline frames for them.
        """
        ...

    async def forget(self, workspace_id: str, operator_id: str) -> None:
        """Erase every entry of the operator (erasure, removal from the workspace)."""
        ...


class MemoryPresence:
    """Presence for one process; the clock is injected so tests need no sleeping."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, clock: Clock = time.monotonic) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._entries: dict[str, dict[tuple[str, str], float]] = {}

    def _live(self, workspace_id: str, operator_id: str, skip: str | None = None) -> bool:
        now = self._clock()
        entries = self._entries.get(workspace_id, {})
        return any(
            op == operator_id and conn != skip and expiry > now
            for (op, conn), expiry in entries.items()
        )

    async def online(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        was = self._live(workspace_id, operator_id, skip=connection_id)
        entries = self._entries.setdefault(workspace_id, {})
        entries[(operator_id, connection_id)] = self._clock() + self._ttl
        return not was

    async def offline(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        entries = self._entries.get(workspace_id, {})
        if entries.pop((operator_id, connection_id), None) is None:
            return False
        if not entries:
            self._entries.pop(workspace_id, None)
        return not self._live(workspace_id, operator_id)

    async def who(self, workspace_id: str) -> set[str]:
        now = self._clock()
        entries = self._entries.get(workspace_id, {})
        return {op for (op, _), expiry in entries.items() if expiry > now}

    async def refresh(self) -> list[tuple[str, str]]:
        # In one process every entry is ours, and a live entry is always refreshed, so
        # nothing can expire here unless the clock jumped past the ttl between heartbeats.
        now = self._clock()
        gone: list[tuple[str, str]] = []
        for workspace_id, entries in list(self._entries.items()):
            expired = {op for (op, _), expiry in entries.items() if expiry <= now}
            for key in [k for k, expiry in entries.items() if expiry <= now]:
                del entries[key]
            for key in entries:
                entries[key] = now + self._ttl
            gone += [(workspace_id, op) for op in expired if not self._live(workspace_id, op)]
            if not entries:
                del self._entries[workspace_id]
        return gone

    async def forget(self, workspace_id: str, operator_id: str) -> None:
        entries = self._entries.get(workspace_id, {})
        for key in [k for k in entries if k[0] == operator_id]:
            del entries[key]


# Keys: KEYS[1] = the workspace's operators (score: latest expiry of any of their
# connections), KEYS[2] = one operator's connections (score: each one's expiry). Every call
# touches one operator's entries only, so its cost does not grow with the workspace.

# online: add the connection; answer 1 when the operator already had a live connection.
_ONLINE = """
local had = redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[3], '+inf')
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if had > 0 then return 1 end
return 0
"""

# offline: remove the connection (ARGV[1] empty: none, just sweep expired ones); answer 1
# when the operator had been listed and no live connection remains. Used by the heartbeat's
# sweep too, so exactly one process reports each expiry.
_OFFLINE = """
if ARGV[1] ~= '' and redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[2], '+inf') > 0 then return 0 end
return redis.call('ZREM', KEYS[1], ARGV[3])
"""


class RedisPresence:
    """Presence shared by every process: per workspace, a sorted set of operators, and per
    operator a sorted set of connections, each scored by expiry time.

    Wall-clock seconds are used as scores, so hub hosts need roughly synchronised clocks.
    """

    def __init__(
        self, url: str, ttl_s: float = DEFAULT_TTL_S, clock: Clock = time.time, prefix: str = ""
    ) -> None:
        # A burst of connecting sockets waits its turn for one of a few connections; a plain
        # pool would refuse every call past its limit, and open a connection per call.
        self._pool = BlockingConnectionPool.from_url(
            url,
            max_connections=32,
            timeout=POOL_WAIT_S,
            socket_connect_timeout=2.0,
            socket_timeout=2.0,
            decode_responses=True,
        )
        self._redis = Redis(connection_pool=self._pool)
        self._ttl = ttl_s
        self._clock = clock
        self._prefix = prefix
        self._local: dict[tuple[str, str, str], None] = {}  # our (workspace, operator, conn)
        self._online = self._redis.register_script(_ONLINE)
        self._offline = self._redis.register_script(_OFFLINE)

    def _keys(self, workspace_id: str, operator_id: str) -> list[str]:
        base = f"{self._prefix}presence:{workspace_id}"
        return [base, f"{base}{_SEP}{operator_id}"]

    @property
    def _keep_ms(self) -> int:
        return int(self._ttl * 4000)  # keys outlive their entries, then vanish on their own

    async def online(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        self._local[(workspace_id, operator_id, connection_id)] = None
        now = self._clock()
        args: list[str | float] = [connection_id, now + self._ttl, now, operator_id, self._keep_ms]
        try:
            had = await self._online(keys=self._keys(workspace_id, operator_id), args=args)
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err
        return not had

    async def offline(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        self._local.pop((workspace_id, operator_id, connection_id), None)
        return await self._remove(workspace_id, operator_id, connection_id)

    async def _remove(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        args: list[str | float] = [connection_id, self._clock(), operator_id]
        try:
            keys = self._keys(workspace_id, operator_id)
            return bool(await self._offline(keys=keys, args=args))
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err

    async def who(self, workspace_id: str) -> set[str]:
        try:
            members = await self._redis.zrangebyscore(
                self._keys(workspace_id, "")[0], f"({self._clock()}", "+inf"
            )
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err
        return set(_names(members))

    async def refresh(self) -> list[tuple[str, str]]:
        now = self._clock()
        expiry = now + self._ttl
        gone: list[tuple[str, str]] = []
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for ws, op, conn in self._local:
                    workspace_key, operator_key = self._keys(ws, op)
                    pipe.zadd(operator_key, {conn: expiry})
                    pipe.zadd(workspace_key, {op: expiry}, gt=True)
                    pipe.pexpire(operator_key, self._keep_ms)
                    pipe.pexpire(workspace_key, self._keep_ms)
                await pipe.execute()
            for ws in {ws for ws, _, _ in self._local}:
                stale = await self._redis.zrangebyscore(self._keys(ws, "")[0], "-inf", now)
                for op in _names(stale):
                    if await self._remove(ws, op, ""):
                        gone.append((ws, op))
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err
        return gone

    async def forget(self, workspace_id: str, operator_id: str) -> None:
        for key in [k for k in self._local if k[0] == workspace_id and k[1] == operator_id]:
            del self._local[key]
        workspace_key, operator_key = self._keys(workspace_id, operator_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(operator_key)
                pipe.zrem(workspace_key, operator_id)
                await pipe.execute()
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err

    async def close(self) -> None:
        await self._redis.aclose()
        await self._pool.disconnect()


def _names(values: Any) -> list[str]:
    return [v if isinstance(v, str) else bytes(v).decode() for v in values]
