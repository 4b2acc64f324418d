"""A contact's message whose flow event no process finished (it died after the ack) is
decided by the worker once the lease ran out, and moves a flow once: whichever worker
takes it, however many take it at once, and not again where the run was recorded. What a
run had to say is carried out by the worker when its process did not finish saying it,
and never said twice (``tests/system/test_flow_durability.py`` kills the process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.flows import engine
from hub.flows.carry import Carry
from hub.model import Author, Inbound, utcnow
from storage import flow_runs, flow_triggers
from storage import models as m
from tests.conftest import LiveServer
from tests.helpers import Account, signup
from tests.web.realtime import close_all_sockets
from tests.web.test_flow_runs import GREET, bot_texts, custom_channel, publish, runs

LEASE_RAN_OUT = timedelta(seconds=31)  # past the default INVIARO_FLOW_LEASE_S


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> AsyncIterator[Account]:
    yield await signup(client)
    await close_all_sockets()


def services_of(live: LiveServer) -> Any:
    return live.app.state.services  # type: ignore[attr-defined]


async def left_behind(live: LiveServer, owner: Account, channel_id: str, text: str) -> str:
    """A contact's message stored and acknowledged by a process that died before its
    runner saw it: in the store (with its ``flow_triggers`` row), never on the hub.
    Answers its conversation's id."""
    result = await services_of(live).store.write(
        Inbound(
            workspace_id=owner.workspace_id,
            channel_id=channel_id,
            direction="in",
            author=Author("contact", None, "Ann"),
            text=text,
            contact_external_id="c-left",
            contact_name="Ann",
        )
    )
    return str(result.message.conversation_id)


async def take_all(live: LiveServer, now: datetime) -> None:
    """The worker's passes until nothing more is left behind (other tests' rows too)."""
    runner = services_of(live).flow_runner
    while await runner.take_left_behind(now):
        pass
    await runner.idle()


async def rows_of(live: LiveServer, conversation_id: str) -> int:
    async with services_of(live).db() as db:
        found = await db.scalars(
            m.FlowTrigger.__table__.select()
            .with_only_columns(m.FlowTrigger.message_id)
            .where(
                m.FlowTrigger.message_id.in_(
                    m.Message.__table__.select()
                    .with_only_columns(m.Message.id)
                    .where(m.Message.conversation_id == conversation_id)
                )
            )
        )
        return len(list(found))


async def test_a_message_the_runner_decided_leaves_no_row_behind(
    owner: Account, live: LiveServer
) -> None:
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    started = await shop.deliver("m-1", "hi")
    await services_of(live).flow_runner.idle()
    advanced = await shop.deliver("m-2", "not an email")
    await services_of(live).flow_runner.idle()
    assert await rows_of(live, started["conversation_id"]) == 0
    assert advanced["conversation_id"] == started["conversation_id"]


async def test_a_message_where_no_flow_could_move_leaves_no_row_behind(
    owner: Account, live: LiveServer
) -> None:
    shop = await custom_channel(owner)  # the workspace has no flow
    delivered = await shop.deliver("m-1", "hi")
    await services_of(live).flow_runner.idle()
    assert await rows_of(live, delivered["conversation_id"]) == 0


async def test_a_message_left_behind_starts_its_flow_from_the_worker_once_the_lease_ran_out(
    owner: Account, live: LiveServer
) -> None:
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    conversation_id = await left_behind(live, owner, shop.id, "hi")

    await take_all(live, utcnow())  # its process may still be deciding: left alone
    assert await bot_texts(owner, conversation_id) == []

    await take_all(live, utcnow() + LEASE_RAN_OUT)
    assert await bot_texts(owner, conversation_id) == ["Welcome to Acme!", "What is your email?"]
    assert await rows_of(live, conversation_id) == 0
    await take_all(live, utcnow() + 2 * LEASE_RAN_OUT)
    assert len(await runs(owner, conversation_id)) == 1


async def test_two_workers_taking_what_was_left_behind_at_once_start_one_run(
    owner: Account, live: LiveServer
) -> None:
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    conversation_id = await left_behind(live, owner, shop.id, "hi")
    later = utcnow() + LEASE_RAN_OUT
    await asyncio.gather(take_all(live, later), take_all(live, later))
    assert await bot_texts(owner, conversation_id) == ["Welcome to Acme!", "What is your email?"]
    assert len(await runs(owner, conversation_id)) == 1


async def test_a_row_left_behind_after_the_run_was_recorded_runs_nothing_twice(
    owner: Account, live: LiveServer
) -> None:
    """The process recorded the run and said its messages, and died before it deleted the
    row: the worker finds the event consumed."""
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    delivered = await shop.deliver("m-1", "hi")
    await services_of(live).flow_runner.idle()
    async with services_of(live).engine.begin() as conn:
        await conn.execute(
            flow_triggers.T_TRIGGER.insert(),
            {
                "message_id": delivered["message_id"],
                "workspace_id": owner.workspace_id,
                "attempts": 0,
                "leased_at": utcnow(),
            },
        )
    await take_all(live, utcnow() + LEASE_RAN_OUT)
    conversation_id = delivered["conversation_id"]
    assert await bot_texts(owner, conversation_id) == ["Welcome to Acme!", "What is your email?"]
    assert len(await runs(owner, conversation_id)) == 1
    assert await rows_of(live, conversation_id) == 0


async def test_a_message_left_behind_that_an_operator_answered_since_starts_no_flow(
    owner: Account, live: LiveServer
) -> None:
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    conversation_id = await left_behind(live, owner, shop.id, "hi")
    reply = await owner.post(f"/api/conversations/{conversation_id}/messages", {"text": "Hello!"})
    assert reply.status_code == 201, reply.text
    await take_all(live, utcnow() + LEASE_RAN_OUT)
    assert await bot_texts(owner, conversation_id) == []
    assert await runs(owner, conversation_id) == []
    assert await rows_of(live, conversation_id) == 0


async def test_a_message_left_behind_whose_flow_was_unpublished_since_is_let_go(
    owner: Account, live: LiveServer
) -> None:
    flow_id = await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    conversation_id = await left_behind(live, owner, shop.id, "hi")
    assert await rows_of(live, conversation_id) == 1
    unpublished = await owner.post(f"/api/flows/{flow_id}/unpublish")
    assert unpublished.status_code == 200, unpublished.text
    await take_all(live, utcnow() + LEASE_RAN_OUT)
    assert await bot_texts(owner, conversation_id) == []
    assert await rows_of(live, conversation_id) == 0


async def pending_of(live: LiveServer, conversation_id: str) -> list[str]:
    async with services_of(live).db() as db:
        found = await db.scalars(
            select(m.FlowPendingActions.key)
            .join(m.FlowRun, m.FlowRun.id == m.FlowPendingActions.run_id)
            .where(m.FlowRun.conversation_id == conversation_id)
        )
        return list(found)


async def test_a_run_whose_bot_has_spoken_keeps_nothing_to_carry_out(
    owner: Account, live: LiveServer
) -> None:
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    started = await shop.deliver("m-1", "hi")
    await services_of(live).flow_runner.idle()
    assert await bot_texts(owner, started["conversation_id"]) == [
        "Welcome to Acme!",
        "What is your email?",
    ]
    assert await pending_of(live, started["conversation_id"]) == []


async def test_what_a_run_said_carried_out_again_by_the_worker_is_said_once(
    owner: Account, live: LiveServer
) -> None:
    """The process said it all and died before it deleted the record: the worker says it
    again, and the messages' ids (the event's) keep each once."""
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    started = await shop.deliver("m-1", "hi")
    conversation_id = started["conversation_id"]
    await services_of(live).flow_runner.idle()
    (run,) = await runs(owner, conversation_id)
    said = Carry(
        [engine.Say("Welcome to Acme!", step="hello"), engine.Say("What is your email?")],
        [engine.StepLog("email", "asked for email")],
    )
    key = f"msg:{started['message_id']}"
    async with services_of(live).db() as db, db.begin():
        flow_runs.add_pending(db, key, run["id"], said.pack())
    runner = services_of(live).flow_runner
    await runner.carry_out_left_behind(utcnow())
    assert await pending_of(live, conversation_id) == [key]  # its process may still be at it
    while await runner.carry_out_left_behind(utcnow() + LEASE_RAN_OUT):
        pass  # other tests' records too
    await runner.idle()
    assert await bot_texts(owner, conversation_id) == ["Welcome to Acme!", "What is your email?"]
    assert await pending_of(live, conversation_id) == []
