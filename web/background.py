"""Tasks a ``Hub.on_accepted`` listener starts so that it never acts in the sender's task
(:mod:`web.flow_runner`, :mod:`web.csat`): each kept until it ends (the event loop holds
only a weak reference to a task), its failure handed to the owner, and awaitable as a
whole (:meth:`Background.idle`: tests, shutdown)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Background:
    def __init__(self, failed: Callable[[BaseException], None]) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._failed = failed  # told of each task that raised

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._failed(exc)

    async def idle(self) -> None:
        """Wait for the tasks in flight, and for those they start meanwhile."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
