"""Who is online, per workspace, with entries that expire on their own.

An operator is online while at least one of their connections has a live entry. Entries
are kept alive by :meth:`Presence.refresh` (the hub's heartbeat); a process killed without
a goodbye simply stops refreshing, and its entries expire after ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from hub.ids import new_id
from hub.redis_cluster import PRESENCE_PREFIX, connect, is_cluster_url
from hub.redis_pipeline import Pipeliner

Clock = Callable[[], float]
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

    async def close(self) -> None:
        """Release connections (at shutdown)."""
        ...


class MemoryPresence:
    """Presence for one process; the clock is injected so tests need no sleeping."""

    def __init__(self, ttl_s: float, clock: Clock = time.monotonic) -> None:
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

    async def close(self) -> None:
        return None  # nothing held outside this process


# The Redis layout. Per workspace W a set of its online operators, ``presence:W``; per
# operator O a hash ``presence:W<SEP>O`` from each process P holding connections of theirs
# to how many; per process a set of what it holds, ``presence:proc<SEP>P``, members
# ``W<SEP>O<SEP>conn``; and one sorted set of processes scored by when each expires,
# ``presence:procs``. A connection counts while its process has not expired. Every call
# costs in proportion to the processes, never to the connections; a heartbeat renews its
# own process's score alone; the first process to see another one expired sweeps what
# that one held and reports who went offline with it, exactly once.

_LIB = """
local SEP = '\\31'
local alive = {}
local function live(procs, process, now)
  local known = alive[process]
  if known == nil then
    local score = redis.call('ZSCORE', procs, process)
    known = score ~= false and score ~= nil and tonumber(score) > now
    alive[process] = known
  end
  return known
end
local function held_elsewhere(operator_key, procs, except, now)
  for _, process in ipairs(redis.call('HKEYS', operator_key)) do
    if process ~= except and live(procs, process, now) then return true end
  end
  return false
end
"""

# KEYS: workspace, operator, process's holdings, processes. ARGV: process, connection,
# operator, workspace, now, expiry, register ('1': list the process too). Answers 1 when
# the operator already had a live connection.
_ONLINE = (
    _LIB
    + """
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if redis.call('SADD', KEYS[3], ARGV[4] .. SEP .. ARGV[3] .. SEP .. ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
else
  mine = mine - 1
end
local had = mine > 0 or held_elsewhere(KEYS[2], KEYS[4], ARGV[1], tonumber(ARGV[5]))
redis.call('SADD', KEYS[1], ARGV[3])
if ARGV[7] == '1' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1]) end
if had then return 1 end
return 0
"""
)

# KEYS and ARGV as for online (without expiry and register). Answers 1 when the operator
# had been listed and no live connection remains.
_OFFLINE = (
    _LIB
    + """
if redis.call('SREM', KEYS[3], ARGV[4] .. SEP .. ARGV[3] .. SEP .. ARGV[2]) == 0 then
  return 0
end
if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if held_elsewhere(KEYS[2], KEYS[4], ARGV[1], tonumber(ARGV[5])) then return 0 end
return redis.call('SREM', KEYS[1], ARGV[3])
"""
)

# KEYS: processes. ARGV: process, now, expiry, key prefix. Renews the process, then sweeps
# every expired one. Answers {1 if the process was still listed, then workspace, operator
# pairs that went offline}.
_REFRESH = (
    _LIB
    + """
local listed = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local out = {0}
if listed ~= false and listed ~= nil then out[1] = 1 end
local now = tonumber(ARGV[2])
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])) do
  redis.call('ZREM', KEYS[1], dead)
  alive[dead] = false
  local holdings = ARGV[4] .. 'presence:proc' .. SEP .. dead
  local seen = {}
  for _, entry in ipairs(redis.call('SMEMBERS', holdings)) do
    local a = string.find(entry, SEP, 1, true)
    local b = string.find(entry, SEP, a + 1, true)
    local pair = string.sub(entry, 1, b - 1)
    if not seen[pair] then
      seen[pair] = true
      local workspace = ARGV[4] .. 'presence:' .. string.sub(entry, 1, a - 1)
      local operator = string.sub(entry, a + 1, b - 1)
      local operator_key = workspace .. SEP .. operator
      redis.call('HDEL', operator_key, dead)
      if not held_elsewhere(operator_key, KEYS[1], '', now)
          and redis.call('SREM', workspace, operator) == 1 then
        table.insert(out, string.sub(entry, 1, a - 1))
        table.insert(out, operator)
      end
    end
  end
  redis.call('DEL', holdings)
end
return out
"""
)

# KEYS: workspace, processes. ARGV: now. Operators with a live connection.
_WHO = (
    _LIB
    + """
local out = {}
for _, operator in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if held_elsewhere(KEYS[1] .. SEP .. operator, KEYS[2], '', tonumber(ARGV[1])) then
    table.insert(out, operator)
  end
end
return out
"""
)


class RedisPresence:
    """Presence shared by every process (the layout is described above).

    Calls go out through one :class:`hub.redis_pipeline.Pipeliner`, so a burst of
    connecting sockets shares round trips instead of queueing for connections. Wall-clock
    seconds are the scores, so hub hosts need roughly synchronised clocks.
    """

    def __init__(self, url: str, ttl_s: float, clock: Clock = time.time, prefix: str = "") -> None:
        self._redis = connect(
            url, socket_connect_timeout=2.0, socket_timeout=2.0, decode_responses=True
        )
        if is_cluster_url(url):  # the scripts span the layout: one slot holds all of it
            prefix = PRESENCE_PREFIX + prefix
        self._calls = Pipeliner(self._redis, "presence")
        self._ttl = ttl_s
        self._clock = clock
        self._prefix = prefix
        self._process = new_id("proc_")
        self._procs = f"{prefix}presence:procs"
        self._holdings = f"{prefix}presence:proc{_SEP}{self._process}"
        self._listed = False  # this process has put itself in the processes' set
        self._local: dict[tuple[str, str, str], None] = {}  # our (workspace, operator, conn)

    def _keys(self, workspace_id: str, operator_id: str) -> list[str]:
        base = f"{self._prefix}presence:{workspace_id}"
        return [base, f"{base}{_SEP}{operator_id}", self._holdings, self._procs]

    async def _eval(self, script: str, keys: list[str], args: list[Any]) -> Any:
        (reply,) = await self._calls.execute(("EVAL", script, len(keys), *keys, *args))
        return reply

    def _online_args(self, workspace_id: str, operator_id: str, connection_id: str) -> list[Any]:
        now = self._clock()
        args = [self._process, connection_id, operator_id, workspace_id, now]
        return [*args, now + self._ttl, "0" if self._listed else "1"]

    async def online(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        self._local[(workspace_id, operator_id, connection_id)] = None
        keys = self._keys(workspace_id, operator_id)
        args = self._online_args(workspace_id, operator_id, connection_id)
        had = await self._eval(_ONLINE, keys, args)
        self._listed = True
        return not had

    async def offline(self, workspace_id: str, operator_id: str, connection_id: str) -> bool:
        self._local.pop((workspace_id, operator_id, connection_id), None)
        args = [self._process, connection_id, operator_id, workspace_id, self._clock()]
        return bool(await self._eval(_OFFLINE, self._keys(workspace_id, operator_id), args))

    async def who(self, workspace_id: str) -> set[str]:
        keys = [f"{self._prefix}presence:{workspace_id}", self._procs]
        return set(await self._eval(_WHO, keys, [self._clock()]))

    async def refresh(self) -> list[tuple[str, str]]:
        now = self._clock()
        args = [self._process, now, now + self._ttl, self._prefix]
        listed, *gone = await self._eval(_REFRESH, [self._procs], args)
        mine = list(self._local)
        if not listed and mine:
            # Taken for dead (a stall past the ttl) and swept: list what we hold again.
            await asyncio.gather(
                *(self._eval(_ONLINE, self._keys(*k[:2]), self._online_args(*k)) for k in mine)
            )
        return list(zip(gone[::2], gone[1::2], strict=True))

    async def close(self) -> None:
        await self._calls.close()
        await self._redis.aclose()
