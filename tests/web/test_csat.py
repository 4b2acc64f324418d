"""CSAT: resolving a conversation sends a 1-5 survey (buttons on the widget, a short text
reply elsewhere), never to a restricted or objected contact; the answer is recorded
without reopening the conversation, and the report sums it per operator and team."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, new_client, signup
from tests.web.realtime import (
    Socket,
    close_all_sockets,
    visitor_session,
    visitor_socket,
    widget_channel,
)


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client, name="Rita Resolver")
    await close_all_sockets()


async def visitor_wrote(owner: Account) -> tuple[Socket, str]:
    session = await visitor_session(owner, await widget_channel(owner))
    sock = await visitor_socket(session["ws_url"])
    await sock.send({"type": "send", "ref": "q", "text": "Can I change my order?"})
    conv = (await sock.wait_for(type="ack", ref="q"))["message"]["conversation_id"]
    return sock, str(conv)


async def resolve(owner: Account, conv: str, assignee: str | None = None) -> None:
    body: dict[str, Any] = {"status": "resolved"}
    if assignee:
        body["assignee_id"] = assignee
    response = await owner.patch(f"/api/conversations/{conv}", body)
    assert response.status_code == 200, response.text


async def survey_of(sock: Socket) -> dict[str, Any]:
    while True:
        frame = await sock.wait_for(type="message")
        if frame["message"]["author"]["kind"] == "bot":
            return dict(frame["message"])


async def report(owner: Account) -> dict[str, Any]:
    response = await owner.get("/api/reports/csat")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_resolving_asks_the_widget_visitor_with_five_buttons(owner: Account) -> None:
    sock, conv = await visitor_wrote(owner)
    await resolve(owner, conv, owner.operator_id)
    survey = await survey_of(sock)
    assert survey["text"] == "How would you rate the help you got?"
    assert [o["value"] for o in survey["options"]] == [f"csat:{n}" for n in range(1, 6)]
    assert (await report(owner))["overall"]["requested"] == 1


async def test_a_tapped_rating_is_recorded_without_reopening_and_reported_per_operator(
    owner: Account, live: LiveServer
) -> None:
    sock, conv = await visitor_wrote(owner)
    await resolve(owner, conv, owner.operator_id)
    await survey_of(sock)
    await sock.send({"type": "send", "ref": "r", "text": "4", "option": "csat:4"})
    await sock.wait_for(type="ack", ref="r")
    await live.app.state.services.csat_answers.idle()  # type: ignore[attr-defined]
    body = await report(owner)
    assert body["overall"]["responses"] == 1 and body["overall"]["average"] == 4
    assert body["overall"]["distribution"]["4"] == 1
    [mine] = body["operators"]
    assert (mine["id"], mine["name"], mine["average"]) == (owner.operator_id, "Rita Resolver", 4)
    assert (await owner.get(f"/api/conversations/{conv}")).json()["status"] == "resolved"


async def test_a_text_reply_of_one_digit_is_a_rating_and_other_text_is_not(
    owner: Account, live: LiveServer
) -> None:
    sock, conv = await visitor_wrote(owner)
    await resolve(owner, conv)
    await survey_of(sock)
    await sock.send({"type": "send", "ref": "x", "text": "I have 2 more questions"})
    await sock.wait_for(type="ack", ref="x")
    await sock.send({"type": "send", "ref": "y", "text": " 2 "})
    await sock.wait_for(type="ack", ref="y")
    await live.app.state.services.csat_answers.idle()  # type: ignore[attr-defined]
    assert (await report(owner))["overall"]["distribution"]["2"] == 1


@pytest.mark.parametrize("processing", ["restricted", "objected"])
async def test_no_survey_for_a_restricted_or_objected_contact(
    owner: Account, processing: str
) -> None:
    _, conv = await visitor_wrote(owner)
    contact = (await owner.get(f"/api/conversations/{conv}")).json()["contact"]["id"]
    changed = await owner.patch(f"/api/contacts/{contact}", {"processing": processing})
    assert changed.status_code == 200, changed.text
    await resolve(owner, conv)
    assert (await report(owner))["overall"]["requested"] == 0


async def test_the_report_is_for_managers_and_by_team(owner: Account, live: LiveServer) -> None:
    team = await owner.post("/api/teams", {"name": "Returns", "operator_ids": [owner.operator_id]})
    assert team.status_code == 201, team.text
    sock, conv = await visitor_wrote(owner)
    await owner.patch(f"/api/conversations/{conv}", {"team_id": team.json()["id"]})
    await resolve(owner, conv)
    await survey_of(sock)
    await sock.send({"type": "send", "ref": "r", "text": "5", "option": "csat:5"})
    await sock.wait_for(type="ack", ref="r")
    await live.app.state.services.csat_answers.idle()  # type: ignore[attr-defined]
    [returns] = (await report(owner))["teams"]
    assert (returns["name"], returns["responses"], returns["average"]) == ("Returns", 1, 5)
    agent = await add_operator(owner, "agent", live.url)
    try:
        assert (await agent.get("/api/reports/csat")).status_code == 403
    finally:
        await agent.client.aclose()
