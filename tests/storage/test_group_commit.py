"""The group-commit queue tells its observer each batch's size and transaction time, and
how long each of its messages waited in the queue before the batch was taken."""

from __future__ import annotations

import asyncio

import pytest

from hub.model import Inbound
from hub.store import WriteResult
from storage import group_commit
from storage.group_commit import Committed, GroupCommitQueue
from tests.helpers import inbound


class Clock:
    """time.monotonic, moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_each_message_s_wait_for_its_batch_is_observed_with_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(group_commit.time, "monotonic", clock)
    observed: list[Committed] = []
    first_taken, release = asyncio.Event(), asyncio.Event()

    async def commit(items: list[Inbound]) -> list[WriteResult | Exception]:
        first_taken.set()
        await release.wait()
        clock.now += 0.010  # the transaction
        return [ValueError(item.text) for item in items]

    queue = GroupCommitQueue(commit, observe=observed.append)
    sends = [asyncio.ensure_future(queue.submit(inbound("a")))]
    await first_taken.wait()  # "a" is committing; "b" and "c" queue behind it
    for text in ("b", "c"):
        clock.now += 0.002
        sends.append(asyncio.ensure_future(queue.submit(inbound(text))))
        await asyncio.sleep(0)  # queued now
    release.set()
    await asyncio.gather(*sends, return_exceptions=True)
    await queue.close()
    assert [c.size for c in observed] == [1, 2]
    assert observed[0].waits == [0.0]
    # b queued 2 ms after a's batch was taken, c 4 ms; a's took 4 + 10 ms in all
    assert observed[1].waits == pytest.approx([0.012, 0.010])
    assert [c.seconds for c in observed] == pytest.approx([0.014, 0.010])
