"""CSAT beyond an operator's resolve: a workspace may switch surveys off, and a flow that
resolves a conversation asks for a rating as an operator's resolve does, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, new_client, signup
from tests.web.realtime import close_all_sockets
from tests.web.test_csat import report, resolve, survey_of, visitor_wrote
from tests.web.test_flow_runs import publish

QUESTION = "How would you rate the help you got?"
CLOSING: dict[str, Any] = {
    "bye": {"type": "send", "text": "Glad to help, goodbye!", "next": "done"},
    "done": {"type": "resolve"},
}


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client, name="Rita Resolver")
    await close_all_sockets()


async def settled(live: LiveServer) -> None:
    """Wait for the flow events in flight (the survey goes out from one)."""
    await live.app.state.services.flow_runner.idle()  # type: ignore[attr-defined]


async def surveys_in(owner: Account, conv: str) -> int:
    items = (await owner.get(f"/api/conversations/{conv}/messages")).json()["items"]
    return sum(1 for m in items if m["author"]["kind"] == "bot" and m["text"] == QUESTION)


async def test_csat_is_on_by_default_and_a_manager_switches_it_off(
    owner: Account, live: LiveServer
) -> None:
    assert (await owner.get("/api/workspace")).json()["csat_enabled"] is True
    agent = await add_operator(owner, "agent", live.url)
    try:
        refused = await agent.patch("/api/workspace", {"csat_enabled": False})
        assert refused.status_code == 403
    finally:
        await agent.client.aclose()
    off = await owner.patch("/api/workspace", {"csat_enabled": False})
    assert (off.status_code, off.json()["csat_enabled"]) == (200, False)
    assert (await owner.get("/api/workspace")).json()["csat_enabled"] is False


async def test_a_workspace_with_csat_off_asks_nobody(owner: Account) -> None:
    assert (await owner.patch("/api/workspace", {"csat_enabled": False})).status_code == 200
    _, conv = await visitor_wrote(owner)
    await resolve(owner, conv, owner.operator_id)
    assert (await report(owner))["overall"]["requested"] == 0
    assert await surveys_in(owner, conv) == 0


async def test_a_flow_that_resolves_asks_for_a_rating_after_its_last_words(
    owner: Account, live: LiveServer
) -> None:
    await publish(owner, CLOSING, "bye")
    sock, conv = await visitor_wrote(owner)
    assert (await survey_of(sock))["text"] == "Glad to help, goodbye!"
    survey = await survey_of(sock)
    assert survey["text"] == QUESTION
    assert [o["value"] for o in survey["options"]] == [f"csat:{n}" for n in range(1, 6)]
    await settled(live)
    assert (await owner.get(f"/api/conversations/{conv}")).json()["status"] == "resolved"
    assert (await report(owner))["overall"]["requested"] == 1


async def test_a_flow_resolve_asks_once_and_an_operator_resolving_again_asks_no_more(
    owner: Account, live: LiveServer
) -> None:
    await publish(owner, CLOSING, "bye")
    _, conv = await visitor_wrote(owner)
    await settled(live)
    await resolve(owner, conv)  # already resolved: no new resolve, no new survey
    await settled(live)
    assert await surveys_in(owner, conv) == 1
    assert (await report(owner))["overall"]["requested"] == 1


async def test_a_flow_resolve_asks_nobody_when_csat_is_off(
    owner: Account, live: LiveServer
) -> None:
    assert (await owner.patch("/api/workspace", {"csat_enabled": False})).status_code == 200
    await publish(owner, CLOSING, "bye")
    _, conv = await visitor_wrote(owner)
    await settled(live)
    assert (await owner.get(f"/api/conversations/{conv}")).json()["status"] == "resolved"
    assert await surveys_in(owner, conv) == 0
