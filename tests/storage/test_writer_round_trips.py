"""How many round trips to Postgres one group commit makes, counted on the wire: what
the writer's latency and CPU are mostly made of (issue 20)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.engine import make_url

from hub.model import Inbound
from storage.db import make_engine
from storage.store import SqlStore

from .conftest import Workspace
from .round_trips import RoundTrips
from .test_writer import inbound

pytestmark = pytest.mark.postgres_only


class Counted:
    """A store whose connections go through a :class:`RoundTrips` proxy, and its batches."""

    def __init__(self, store: SqlStore, trips: RoundTrips, batches: list[int]) -> None:
        self.store, self.trips, self.batches = store, trips, batches

    async def trips_per_batch(self, items: list[Inbound]) -> float:
        """Round trips per group commit of writing ``items`` together, after the same
        shape of batch once (asyncpg prepares each statement on first use)."""
        self.trips.count, self.batches[:] = 0, []
        results = await asyncio.gather(*(self.store.write(i) for i in items))
        assert all(r.created for r in results)
        return self.trips.count / len(self.batches)


@pytest.fixture
async def counted(db_url: str) -> AsyncIterator[Counted]:
    url = make_url(db_url)
    async with RoundTrips(url.host or "127.0.0.1", url.port or 5432) as trips:
        through = url.set(host="127.0.0.1", port=trips.port).update_query_dict({"ssl": "disable"})
        counted_engine = make_engine(through.render_as_string(hide_password=False))
        batches: list[int] = []
        store = SqlStore(counted_engine, observe=lambda c: batches.append(c.size))
        try:
            yield Counted(store, trips, batches)
        finally:
            await store.close()
            await counted_engine.dispose()


async def twice(counted: Counted, batch: Callable[[], list[Inbound]]) -> float:
    await counted.trips_per_batch(batch())  # warm: statements prepared, types known
    return await counted.trips_per_batch(batch())


async def test_a_batch_of_first_contacts_makes_four_round_trips(
    counted: Counted, workspace: Workspace
) -> None:
    """BEGIN, the lookup, the write (with the new contacts), COMMIT."""
    n = iter(range(1000))

    def first_contacts() -> list[Inbound]:
        return [
            inbound(workspace, sender=f"+1{i}", provider_message_id=f"wamid.{i}")
            for i in [next(n) for _ in range(10)]
        ]

    assert await twice(counted, first_contacts) == 4


async def test_a_batch_of_known_senders_makes_four_round_trips(
    counted: Counted, workspace: Workspace
) -> None:
    """BEGIN, the lookup (erased messages, senders, copies and the conversations' locks
    in one), the write, COMMIT."""
    senders = [f"+2{i}" for i in range(10)]
    await counted.trips_per_batch([inbound(workspace, sender=s) for s in senders])
    n = iter(range(1000))

    def known() -> list[Inbound]:
        return [
            inbound(workspace, sender=s, provider_message_id=f"wamid.{next(n)}") for s in senders
        ]

    assert await twice(counted, known) == 4


async def test_a_batch_into_named_conversations_makes_four_round_trips(
    counted: Counted, workspace: Workspace
) -> None:
    first = [inbound(workspace, sender=f"+3{i}") for i in range(10)]
    convs = [(await counted.store.write(i)).message.conversation_id for i in first]
    n = iter(range(1000))

    def named() -> list[Inbound]:
        return [inbound(workspace, conversation_id=c, client_id=f"c{next(n)}") for c in convs]

    assert await twice(counted, named) == 4
