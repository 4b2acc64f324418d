"""The outbox's claims: concurrent workers never hold one row at once; leases expire."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Author, Inbound, utcnow
from storage import outbox
from storage.store import SqlStore

from .conftest import Workspace

LEASE = timedelta(seconds=30)


async def queue_replies(store: SqlStore, ws: Workspace, n: int) -> set[str]:
    first = await store.write(
        Inbound(
            workspace_id=ws.id,
            channel_id=ws.whatsapp,
            direction="in",
            author=Author("contact", None, "Ann"),
            text="hello",
            contact_external_id="4915100000",
        )
    )
    conv = first.message.conversation_id
    replies = await asyncio.gather(
        *(
            store.write(
                Inbound(
                    workspace_id=ws.id,
                    channel_id=ws.whatsapp,
                    direction="out",
                    author=Author("operator", None, "Op"),
                    text=f"reply {i}",
                    conversation_id=conv,
                )
            )
            for i in range(n)
        )
    )
    assert {r.message.status for r in replies} == {"queued"}
    return {r.message.id for r in replies}


async def test_concurrent_claims_never_overlap(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    mine = await queue_replies(store, workspace, 40)
    now = utcnow()
    batches = await asyncio.gather(
        *(outbox.claim_due(engine, limit=10, lease=LEASE, now=now) for _ in range(6))
    )
    claimed = [item.message_id for batch in batches for item in batch]
    assert len(claimed) == len(set(claimed))  # no row in two workers' hands
    assert mine <= set(claimed)
    item = next(i for b in batches for i in b if i.message_id in mine)
    assert (item.recipient, item.channel_kind, item.attempts) == ("4915100000", "whatsapp", 1)
    # Leased: nobody else gets them until the lease runs out.
    again = await outbox.claim_due(engine, limit=100, lease=LEASE, now=now)
    assert not mine & {i.message_id for i in again}


async def test_an_expired_lease_is_claimed_again(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    mine = await queue_replies(store, workspace, 3)
    now = utcnow()
    first = [i for i in await outbox.claim_due(engine, limit=500, lease=LEASE, now=now)]
    assert mine <= {i.message_id for i in first}
    later = now + LEASE + timedelta(seconds=1)  # the first worker died holding them
    second = await outbox.claim_due(engine, limit=500, lease=LEASE, now=later)
    reclaimed = {i.message_id: i for i in second if i.message_id in mine}
    assert set(reclaimed) == mine
    assert {i.attempts for i in reclaimed.values()} == {2}
    for item in reclaimed.values():
        receipt = await outbox.complete_sent(engine, item, f"wamid.{item.message_id}")
        assert receipt is not None and receipt.status == "sent"
    beyond = later + LEASE * 10
    assert not mine & {
        i.message_id for i in await outbox.claim_due(engine, limit=500, lease=LEASE, now=beyond)
    }


async def test_statuses_only_move_forward(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    [message_id] = await queue_replies(store, workspace, 1)
    [item] = [
        i
        for i in await outbox.claim_due(engine, limit=500, lease=LEASE)
        if i.message_id == message_id
    ]
    await outbox.complete_sent(engine, item, "wamid.forward")
    ch = workspace.whatsapp
    assert [r.status for r in await outbox.apply_status(engine, ch, "wamid.forward", "read")] == [
        "read"
    ]
    assert await outbox.apply_status(engine, ch, "wamid.forward", "delivered") == []
    assert await outbox.apply_status(engine, ch, "wamid.forward", "read") == []
