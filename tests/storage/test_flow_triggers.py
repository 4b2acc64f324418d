"""A contact's message that could move a flow is queued for the flow runner
(``flow_triggers``) by the writer, in the message's own transaction: such a stored message
always has its row, one that could move none has none, a failed write leaves neither, and
a row left behind is leased to one worker at a time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Author, utcnow
from storage import flow_triggers
from storage import models as m
from storage.batch_plan import plan
from storage.db import sessionmaker
from storage.store import SqlStore

from .conftest import Workspace
from .test_batch_plan import CUSTOM, NOW, OLGA, OPEN, item
from .test_writer import count, inbound

LEASE = timedelta(seconds=30)
BOT = Author("bot", "fl_1", "Greeting")


def test_a_contacts_message_is_queued_for_the_flow_runner_with_it() -> None:
    out = plan([item(0)], {0: CUSTOM}, {"cv_1": OPEN}, {}, NOW)
    assert out.flow_triggers == [
        {"message_id": "msg_0", "workspace_id": "ws_1", "conversation_id": "cv_1", "leased_at": NOW}
    ]


@pytest.mark.parametrize("author", [OLGA, BOT], ids=["operator", "bot"])
def test_an_outbound_message_is_not_queued_for_the_flow_runner(author: Author) -> None:
    reply = item(0, author=author, direction="out")
    out = plan([reply], {0: CUSTOM}, {"cv_1": OPEN}, {}, NOW)
    assert out.flow_triggers == []


def test_a_copy_of_a_stored_contact_message_is_queued_once() -> None:
    out = plan([item(0)] * 2, dict.fromkeys(range(2), CUSTOM), {"cv_1": OPEN}, {}, NOW)
    assert len(out.flow_triggers) == 1


async def published_flow(engine: AsyncEngine, workspace: Workspace) -> str:
    flow = m.Flow(workspace_id=workspace.id, name="Greeting", trigger="message", status="published")
    async with sessionmaker(engine)() as session, session.begin():
        session.add(flow)
    return flow.id


async def queued(engine: AsyncEngine, message_id: str) -> int:
    return await count(engine, m.FlowTrigger, m.FlowTrigger.message_id == message_id)


async def test_a_stored_contact_message_has_its_flow_trigger_row(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    await published_flow(engine, workspace)
    message = inbound(workspace)
    result = await store.write(message)
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(m.FlowTrigger).where(m.FlowTrigger.message_id == message.id))
        ).one()
    assert result.created
    assert (row.workspace_id, row.attempts) == (workspace.id, 0)


async def test_a_contact_message_where_no_flow_could_move_queues_nothing(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    """The common case costs no row: the workspace has no published flow, and the
    conversation no live run."""
    async with sessionmaker(engine)() as session, session.begin():
        session.add(m.Flow(workspace_id=workspace.id, name="Draft", trigger="message"))
    message = inbound(workspace)
    await store.write(message)
    assert await queued(engine, message.id) == 0


async def test_the_write_tells_the_flow_runner_whether_it_queued_the_message(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    """So the runner asks nothing about the messages that could move no flow."""
    quiet = await store.write(inbound(workspace))
    await published_flow(engine, workspace)
    message = inbound(workspace, sender="+4915100002")
    moving = await store.write(message)
    again = await store.write(message)
    assert (quiet.could_move_flow, moving.could_move_flow) == (False, True)
    assert (again.created, again.could_move_flow) == (False, False)


async def test_a_contact_message_in_a_conversation_with_a_live_run_is_queued(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    """A run waiting for the contact's answer, of a flow unpublished since."""
    flow_id = await published_flow(engine, workspace)
    first = await store.write(inbound(workspace))
    async with sessionmaker(engine)() as session, session.begin():
        session.add(
            m.FlowRun(
                workspace_id=workspace.id,
                flow_id=flow_id,
                version=1,
                conversation_id=first.message.conversation_id,
                status="waiting",
                state={},
            )
        )
        flow = await session.get(m.Flow, flow_id)
        assert flow is not None
        flow.status = "draft"
    answer = inbound(workspace, text="ana@example.com")
    await store.write(answer)
    elsewhere = inbound(workspace, sender="+4915100001")  # no run in that conversation
    await store.write(elsewhere)
    assert await queued(engine, answer.id) == 1
    assert await queued(engine, elsewhere.id) == 0


async def test_a_flow_trigger_that_cannot_be_written_fails_its_message_write(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    """The row goes in with the message or not at all: here a row already holds the
    message's id, so the insert fails, and the message is not stored either."""
    await published_flow(engine, workspace)
    message = inbound(workspace)
    async with engine.begin() as conn:
        await conn.execute(
            flow_triggers.T_TRIGGER.insert(),
            {
                "message_id": message.id,
                "workspace_id": workspace.id,
                "attempts": 0,
                "leased_at": utcnow() - timedelta(days=1),
            },
        )
    with pytest.raises(IntegrityError):
        await store.write(message)
    assert await count(engine, m.Message, m.Message.channel_id == workspace.custom) == 0
    assert await count(engine, m.FlowTrigger, m.FlowTrigger.message_id == message.id) == 1


async def test_a_row_is_claimed_only_once_its_lease_ran_out(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    await published_flow(engine, workspace)
    message = inbound(workspace)
    await store.write(message)
    now = utcnow()
    early = await flow_triggers.claim(engine, limit=1_000_000, lease=LEASE, now=now)
    late = await flow_triggers.claim(engine, limit=1_000_000, lease=LEASE, now=now + LEASE)
    assert message.id not in {c.message_id for c in early}
    assert flow_triggers.Claimed(message.id, 1) in late


async def test_two_workers_claiming_at_once_take_a_row_once(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    await published_flow(engine, workspace)
    message = inbound(workspace)
    await store.write(message)
    later = utcnow() + LEASE
    first, second = await asyncio.gather(
        flow_triggers.claim(engine, limit=1_000_000, lease=LEASE, now=later),
        flow_triggers.claim(engine, limit=1_000_000, lease=LEASE, now=later),
    )
    taken = [c.message_id for c in first + second if c.message_id == message.id]
    assert taken == [message.id]


async def test_a_claimed_row_is_claimed_again_after_another_lease_counting_attempts(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    await published_flow(engine, workspace)
    message = inbound(workspace)
    await store.write(message)
    later = utcnow() + LEASE
    await flow_triggers.claim(engine, limit=1_000_000, lease=LEASE, now=later)
    again = await flow_triggers.claim(engine, limit=1_000_000, lease=LEASE, now=later + LEASE)
    assert flow_triggers.Claimed(message.id, 2) in again


async def test_a_row_done_with_is_never_claimed(
    store: SqlStore, workspace: Workspace, engine: AsyncEngine
) -> None:
    await published_flow(engine, workspace)
    message = inbound(workspace)
    await store.write(message)
    async with engine.begin() as conn:
        await flow_triggers.done(conn, [message.id])
    later = utcnow() + LEASE
    claimed = await flow_triggers.claim(engine, limit=1_000_000, lease=LEASE, now=later)
    assert message.id not in {c.message_id for c in claimed}
