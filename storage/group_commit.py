"""The group-commit queue: many callers, one committing task, bounded admission.

Callers ``await submit(item)``; one task drains whatever queued up meanwhile (at most
``max_batch`` at a time) and hands it to ``commit`` as ONE batch, so no caller waits on the
database one message at a time and the commit cost is shared. A caller's future resolves
with its own outcome only after ``commit`` returned. Past ``max_backlog`` queued items new
ones are refused at once (:class:`hub.store.Unavailable`), said once in the log until the
queue drains to half.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub.model import Inbound
from hub.store import Unavailable, WriteResult

log = logging.getLogger("inviaro.writer")

Commit = Callable[[list[Inbound]], Awaitable[list[WriteResult | Exception]]]


@dataclass(frozen=True, slots=True)
class Committed:
    """What one group commit cost, for the metrics: where a message's wait for its ack goes."""

    size: int
    seconds: float  # the transaction, from its batch taken off the queue to its commit
    waits: list[float]  # each message's time in the queue before its batch was taken


Observe = Callable[[Committed], None]


@dataclass
class _Pending:
    inbound: Inbound
    future: asyncio.Future[WriteResult]
    at: float  # time.monotonic() when it was queued


class GroupCommitQueue:
    def __init__(
        self,
        commit: Commit,
        *,
        max_batch: int = 500,
        max_backlog: int = 10_000,
        observe: Observe | None = None,
    ) -> None:
        self._commit_batch = commit
        self._max_batch = max_batch
        self._max_backlog = max_backlog
        self._observe = observe
        self._queue: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._full = False  # refusing new items (said once, until the queue drains)
        self._committing_since: float | None = None  # queued time of the batch in flight

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inviaro-writer")

    async def close(self) -> None:
        """Commit everything already queued, then stop. (Callers bound how long they wait:
        cancelling this cancels the commit in flight; its senders were never acknowledged.)"""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def admits(self, count: int) -> bool:
        """Whether ``count`` more items fit in the queue now (a door that takes many at
        once refuses them all rather than some)."""
        return len(self._queue) + count <= self._max_backlog

    def waiting_s(self) -> float:
        """How long the oldest item not yet committed has waited (0 when none)."""
        since = self._committing_since
        if since is None and self._queue:
            since = self._queue[0].at
        return 0.0 if since is None else time.monotonic() - since

    async def submit(self, inbound: Inbound) -> WriteResult:
        """Queue ``inbound`` and wait for the commit of the batch that holds it."""
        if self._closing:
            raise Unavailable("the writer is closing; retry on another process")
        if not self.admits(1):
            if not self._full:
                self._full = True
                log.warning(
                    "%d messages wait for the database: refusing more until they are stored",
                    len(self._queue),
                )
            raise Unavailable("too many messages are waiting to be stored; retry later")
        self.start()
        future: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(inbound, future, time.monotonic()))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))
                ]
                self._committing_since = batch[0].at
                try:
                    await self._commit(batch)
                finally:
                    self._committing_since = None
                if self._full and len(self._queue) <= self._max_backlog // 2:
                    self._full = False
                    log.warning("the writer's queue drained: accepting messages again")
            if self._closing:
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        started = time.monotonic()
        outcomes = await self._commit_batch([p.inbound for p in batch])
        seconds = time.monotonic() - started
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if isinstance(outcome, Exception):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)
        if self._observe is not None:  # after the senders were told: nobody waits on it
            self._observe(Committed(len(batch), seconds, [started - p.at for p in batch]))
