"""A flow lives in the database, not in a process. A run waiting for the contact: SIGKILL
the process that advanced it, send the answer to the other process, and the run goes on,
once. A contact's message acknowledged by a process SIGKILLed before its flow ran: the
worker starts the run, once. A run moved by a process SIGKILLed before its bot spoke: the
worker says what it had to, once."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from storage import models as m
from storage.db import make_engine
from tests.conftest import SECRET, free_port
from tests.system.conftest import Cluster, Hub, RedisServer
from tests.system.test_media_durability import worker
from tests.web.realtime import visitor_session, visitor_socket, widget_channel
from tests.web.test_flow_runs import GREET, Visitor, publish

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]


async def test_a_waiting_run_survives_sigkill_and_goes_on_once_on_the_other_process(
    cluster: Cluster, owner_of: Any
) -> None:
    a, b = cluster.hubs
    owner = await owner_of(b.url)  # the owner talks to B, which survives
    await publish(owner, GREET, "hello")
    session = await visitor_session(owner, await widget_channel(owner))
    on_a = Visitor(
        await visitor_socket(session["ws_url"].replace(b.ws_url, a.ws_url)),
        session["conversation_id"],
    )
    await on_a.say("hi")
    assert (await on_a.bot())["text"] == "Welcome to Acme!"
    assert (await on_a.bot())["text"] == "What is your email?"

    a.kill()  # SIGKILL: the process that started the run and holds the visitor's socket

    on_b = Visitor(await visitor_socket(session["ws_url"]), session["conversation_id"])
    on_b.n = 100
    await on_b.say("ana@example.com")
    assert (await on_b.bot())["text"] == "Sales or support?"

    stored = await owner.get(f"/api/conversations/{session['conversation_id']}/messages")
    items = stored.json()["items"]
    assert [m["text"] for m in items if not m["private"]] == [
        "hi",
        "Welcome to Acme!",
        "What is your email?",
        "ana@example.com",
        "Sales or support?",
    ]
    lines = [m["text"] for m in items if m["author"]["kind"] == "system"]
    assert lines.count("Greeting: saved contact.email") == 1  # the operators' line, once too
    runs = (await owner.get(f"/api/conversations/{session['conversation_id']}/flow-runs")).json()
    (run,) = runs["items"]
    outcomes = [s["outcome"] for s in run["steps"]]
    assert outcomes.count("saved contact.email") == 1 and run["status"] == "waiting"


async def test_a_message_acknowledged_by_a_hub_killed_before_its_flow_ran_starts_it_from_the_worker(
    pg_database: str, greeting_hub: tuple[Hub, dict[str, str], Visitor], tmp_path: Path
) -> None:
    hub, env, visitor = greeting_hub

    engine = make_engine(pg_database)
    try:
        # The runner's first look at the consumed events waits on this lock, so the hub
        # is killed after the ack and before any run could be recorded.
        async with engine.connect() as holding:
            await holding.execute(text("LOCK TABLE flow_events IN ACCESS EXCLUSIVE MODE"))
            await visitor.say("hi")  # acknowledged: stored
            assert hub.kill(signal.SIGKILL) == -signal.SIGKILL
            await holding.rollback()

        assert await bot_lines(engine, visitor.conversation_id) == []  # nobody ran it yet
        with worker(env, tmp_path / "worker.log"):
            said = await settled(engine, visitor.conversation_id)
        runs = await run_statuses(engine, visitor.conversation_id)
    finally:
        await engine.dispose()
    assert said == ["Welcome to Acme!", "What is your email?"]
    assert runs == ["waiting"]  # one run, waiting for the email


async def test_a_run_moved_by_a_hub_killed_before_its_bot_spoke_speaks_from_the_worker_once(
    pg_database: str, greeting_hub: tuple[Hub, dict[str, str], Visitor], tmp_path: Path
) -> None:
    hub, env, visitor = greeting_hub

    engine = make_engine(pg_database)
    try:
        async with engine.connect() as events, engine.connect() as messages:
            # The runner waits on flow_events until the contact's message is stored; then
            # the bot's first message (the runner's first write to messages once the run's
            # new state is committed) waits on the second lock, and the hub is killed.
            await events.execute(text("LOCK TABLE flow_events IN ACCESS EXCLUSIVE MODE"))
            await visitor.say("hi")  # acknowledged: stored
            await messages.execute(text("LOCK TABLE messages IN EXCLUSIVE MODE"))
            await events.rollback()
            await run_moved(engine, visitor.conversation_id)
            assert hub.kill(signal.SIGKILL) == -signal.SIGKILL
            await messages.rollback()

        assert await bot_lines(engine, visitor.conversation_id) == []  # the bot said nothing
        with worker(env, tmp_path / "worker.log"):
            said = await settled(engine, visitor.conversation_id)
        runs = await run_statuses(engine, visitor.conversation_id)
        async with engine.connect() as conn:
            notes = list(
                await conn.scalars(
                    select(m.Message.text).where(
                        m.Message.conversation_id == visitor.conversation_id,
                        m.Message.author_kind == "system",
                    )
                )
            )
    finally:
        await engine.dispose()
    assert said == ["Welcome to Acme!", "What is your email?"]  # each once
    (note,) = notes  # the operators' line, once too
    assert note.endswith(": asked for email")
    assert runs == ["waiting"]


@pytest.fixture
async def greeting_hub(
    pg_database: str, redis_server: RedisServer, tmp_path: Path, owner_of: Any
) -> AsyncIterator[tuple[Hub, dict[str, str], Visitor]]:
    """A web process that runs no worker (production-shaped) with ``GREET`` published, its
    environment (a worker's, later) and a visitor connected to it; killed afterwards if the
    test did not."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_database,
        "REDIS_URL": redis_server.url,
        "INVIARO_SECRET_KEY": SECRET,
        "INVIARO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "INVIARO_FLOW_LEASE_S": "1",
        "PYTHONUNBUFFERED": "1",
    }
    hub = Hub(port, env, tmp_path / "hub.log")
    hub.start()
    await hub.wait_ready()
    owner = await owner_of(hub.url)
    await publish(owner, GREET, "hello")
    session = await visitor_session(owner, await widget_channel(owner))
    visitor = Visitor(await visitor_socket(session["ws_url"]), session["conversation_id"])
    yield hub, env, visitor
    if hub.proc is not None:
        hub.kill()


async def run_statuses(engine: Any, conversation_id: str) -> list[str]:
    async with engine.connect() as conn:
        found = await conn.scalars(
            select(m.FlowRun.status).where(m.FlowRun.conversation_id == conversation_id)
        )
        return list(found)


async def run_moved(engine: Any, conversation_id: str) -> None:
    """Until the conversation's run is stored (the bound only guards against a hang)."""
    for _ in range(600):
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(m.FlowRun.id).where(m.FlowRun.conversation_id == conversation_id)
            )
        if found is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the hub moved no run")


async def bot_lines(engine: Any, conversation_id: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.scalars(
            select(m.Message.text)
            .where(m.Message.conversation_id == conversation_id, m.Message.author_kind == "bot")
            .order_by(m.Message.seq)
        )
        return list(rows)


async def settled(engine: Any, conversation_id: str) -> list[str]:
    """The bot's messages once the worker is done with the contact's message and what its
    run had to say (its ``flow_triggers`` and ``flow_pending_actions`` rows gone; the bound
    only guards against a hang: the worker takes them at its first poll past the lease)."""
    for _ in range(600):
        async with engine.connect() as conn:
            left = await conn.scalar(select(func.count()).select_from(m.FlowTrigger))
            left += await conn.scalar(select(func.count()).select_from(m.FlowPendingActions))
        lines = await bot_lines(engine, conversation_id)
        if lines and not left:
            return lines
        await asyncio.sleep(0.1)
    raise AssertionError("no worker ran the flow")


@pytest.fixture
async def owner_of(closer: list[Any]) -> Any:
    from tests.helpers import new_client, signup

    async def make(url: str) -> Any:
        client = new_client(url)
        closer.append(client)
        return await signup(client)

    return make
