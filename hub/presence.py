"""Who is online, per workspace, with entries that expire on their own.

An operator is online while at least one of their connections has a live entry. Entries
are kept alive by :meth:`Presence.refresh` (the hub's heartbeat); a process killed without
a goodbye simply stops refreshing, and its entries expire after ``ttl_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.bus import BusUnavailable

Clock = Callable[[], float]
DEFAULT_TTL_S = 20.0
_SEP = "\x1f"  # between operator id and connection id in a member name


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


# online: add the member, answer whether the operator had no other live member before.
_ONLINE = """
local prefix = ARGV[4]
local had = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[3], '+inf')) do
  if m ~= ARGV[1] and string.sub(m, 1, #prefix) == prefix then had = 1 break end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return had
"""

# offline: remove the member; answer 1 when it existed and no live member of the operator
# remains. Also used by the sweep, so exactly one process reports each expiry.
_OFFLINE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local prefix = ARGV[3]
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf')) do
  if string.sub(m, 1, #prefix) == prefix then return 0 end
end
return 1
"""


class RedisPresence:
    """Presence shared by every process: a sorted set per workspace, scored by expiry time.

    Wall-clock seconds are used as scores, so hub hosts need roughly synchronised clocks.
    """

    def __init__(
        self, url: str, ttl_s: float = DEFAULT_TTL_S, clock: Clock = time.time, prefix: str = ""
    ) -> None:
        self._redis = Redis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=2.0, decode_responses=True
        )
        self._ttl = ttl_s
        self._clock = clock
        self._prefix = prefix
        self._local: dict[tuple[str, str, str], None] = {}  # our (workspace, operator, conn)
        self._online = self._redis.register_script(_ONLINE)
        self._offline = self._redis.register_script(_OFFLINE)

    def _key(self, workspace_id: str) -> str:
        return f"{self._prefix}presence:{workspace_id}"

    async def online(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        self._local[(workspace_id, operator_id, connection_id)] = None
        now = self._clock()
        args: list[str | float] = [
            operator_id + _SEP + connection_id,
            now + self._ttl,
            now,
            operator_id + _SEP,
            int(self._ttl * 4000),
        ]
        try:
            had = await self._online(keys=[self._key(workspace_id)], args=args)
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err
        return not had

    async def offline(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        self._local.pop((workspace_id, operator_id, connection_id), None)
        return await self._remove(workspace_id, operator_id + _SEP + connection_id)

    async def _remove(self, workspace_id: str, member: str) -> bool:
        operator_id = member.split(_SEP, 1)[0]
        args: list[str | float] = [member, self._clock(), operator_id + _SEP]
        try:
            return bool(await self._offline(keys=[self._key(workspace_id)], args=args))
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err

    async def who(self, workspace_id: str) -> set[str]:
        try:
            members = await self._redis.zrangebyscore(
                self._key(workspace_id), f"({self._clock()}", "+inf"
            )
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err
        return {m.split(_SEP, 1)[0] for m in _names(members)}

    async def refresh(self) -> list[tuple[str, str]]:
        now = self._clock()
        workspaces = {ws for ws, _, _ in self._local}
        gone: list[tuple[str, str]] = []
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for ws, op, conn in self._local:
                    pipe.zadd(self._key(ws), {op + _SEP + conn: now + self._ttl})
                for ws in workspaces:
                    pipe.pexpire(self._key(ws), int(self._ttl * 4000))
                await pipe.execute()
            for ws in workspaces:
                expired = await self._redis.zrangebyscore(self._key(ws), "-inf", now)
                for name in _names(expired):
                    if await self._remove(ws, name):
                        gone.append((ws, name.split(_SEP, 1)[0]))
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err
        return gone

    async def forget(self, workspace_id: str, operator_id: str) -> None:
        for key in [k for k in self._local if k[0] == workspace_id and k[1] == operator_id]:
            del self._local[key]
        try:
            members = await self._redis.zrange(self._key(workspace_id), 0, -1)
            doomed = [m for m in _names(members) if m.split(_SEP, 1)[0] == operator_id]
            if doomed:
                await self._redis.zrem(self._key(workspace_id), *doomed)
        except (RedisError, OSError) as err:
            raise BusUnavailable(f"presence: {err}") from err

    async def close(self) -> None:
        await self._redis.aclose()


def _names(values: Any) -> list[str]:
    return [v if isinstance(v, str) else bytes(v).decode() for v in values]
