"""A run waiting for the contact lives in the database, not in a process: SIGKILL the
process that advanced it, send the answer to the other process, and the run goes on, once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.system.conftest import Cluster
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


@pytest.fixture
async def owner_of(closer: list[Any]) -> Any:
    from tests.helpers import new_client, signup

    async def make(url: str) -> Any:
        client = new_client(url)
        closer.append(client)
        return await signup(client)

    return make
