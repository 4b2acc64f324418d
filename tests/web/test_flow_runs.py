"""Flows running on live conversations, end to end through the widget: the greeting, an
ask that re-asks and saves, a choose offered as buttons and picked three ways, humans
first, hand-off to a team, and each event advancing a run once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, signup
from tests.web.realtime import (
    Socket,
    Widget,
    close_all_sockets,
    visitor_session,
    visitor_socket,
    widget_channel,
)

GREET: dict[str, Any] = {
    "hello": {"type": "send", "text": "Welcome to Acme!", "next": "email"},
    "email": {
        "type": "ask",
        "text": "What is your email?",
        "input": "email",
        "save_as": "contact.email",
        "retry_text": "That is not an email; try again?",
        "next": "team",
    },
    "team": {
        "type": "choose",
        "text": "Sales or support?",
        "save_as": "vars.team",
        "options": [{"label": "Sales", "next": "thanks"}, {"label": "Support", "next": "thanks"}],
    },
    "thanks": {"type": "send", "text": "{{vars.team}} it is, {{contact.email}}."},
}


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> AsyncIterator[Account]:
    yield await signup(client)
    await close_all_sockets()


async def publish(owner: Account, steps: dict[str, Any], start: str, **trigger: Any) -> str:
    body = {
        "name": "Greeting",
        "trigger": {"on": "conversation_started", **trigger},
        "start": start,
        "steps": steps,
    }
    flow = (await owner.post("/api/flows", body)).json()
    published = await owner.post(f"/api/flows/{flow['id']}/publish")
    assert published.status_code == 200, published.text
    return str(flow["id"])


class Visitor:
    def __init__(self, socket: Socket, conversation_id: str) -> None:
        self.socket = socket
        self.conversation_id = conversation_id
        self.n = 0

    async def say(self, text: str, option: str | None = None) -> None:
        self.n += 1
        frame: dict[str, Any] = {"type": "send", "ref": self.n, "text": text}
        if option is not None:
            frame["option"] = option
        await self.socket.send(frame)
        await self.socket.wait_for(type="ack", ref=self.n)

    async def bot(self) -> dict[str, Any]:
        """The next message from the bot."""
        while True:
            frame = await self.socket.wait_for(type="message")
            if frame["message"]["author"]["kind"] == "bot":
                return dict(frame["message"])


async def visitor(owner: Account, widget: Widget | None = None) -> Visitor:
    widget = widget or await widget_channel(owner)
    session = await visitor_session(owner, widget)
    return Visitor(await visitor_socket(session["ws_url"]), session["conversation_id"])


async def runs(owner: Account, conversation_id: str) -> list[dict[str, Any]]:
    response = await owner.get(f"/api/conversations/{conversation_id}/flow-runs")
    assert response.status_code == 200
    return list(response.json()["items"])


async def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def test_a_widget_visitors_first_message_gets_the_greeting(owner: Account) -> None:
    await publish(owner, GREET, "hello")
    v = await visitor(owner)
    await v.say("hi there")
    greeting = await v.bot()
    assert greeting["text"] == "Welcome to Acme!" and greeting["direction"] == "out"
    assert (await v.bot())["text"] == "What is your email?"


async def test_an_ask_re_asks_on_an_invalid_answer_and_saves_a_valid_one(
    owner: Account,
) -> None:
    await publish(owner, GREET, "hello")
    v = await visitor(owner)
    await v.say("hi")
    await v.bot(), await v.bot()
    await v.say("not an email")
    assert (await v.bot())["text"] == "That is not an email; try again?"
    await v.say("Ana@Example.com")
    assert (await v.bot())["text"] == "Sales or support?"
    conv = (await owner.get(f"/api/conversations/{v.conversation_id}")).json()
    contact = (await owner.get(f"/api/contacts/{conv['contact']['id']}")).json()
    assert contact["email"] == "ana@example.com"


@pytest.mark.parametrize(("text", "option"), [("Support", "2"), ("2", None), ("support", None)])
async def test_a_choose_arrives_as_buttons_and_a_tap_a_number_or_a_label_picks(
    owner: Account, text: str, option: str | None
) -> None:
    await publish(owner, {k: GREET[k] for k in ("team", "thanks")}, "team")
    v = await visitor(owner)
    await v.say("hi")
    offer = await v.bot()
    assert offer["options"] == [
        {"label": "Sales", "value": "1"},
        {"label": "Support", "value": "2"},
    ]
    await v.say(text, option)
    assert (await v.bot())["text"] == "Support it is, ."


async def test_the_runs_history_says_what_the_bot_did(owner: Account) -> None:
    flow_id = await publish(owner, GREET, "hello")
    v = await visitor(owner)
    await v.say("hi")
    await v.bot(), await v.bot()
    await v.say("ana@example.com")
    await v.bot()
    (run,) = await runs(owner, v.conversation_id)
    assert run["flow_id"] == flow_id and run["version"] == 1 and run["status"] == "waiting"
    assert [(s["step"], s["outcome"]) for s in run["steps"]] == [
        ("hello", "sent"),
        ("email", "asked for email"),
        ("email", "saved contact.email"),
        ("team", "offered 2 options"),
    ]


async def test_the_thread_shows_what_the_bot_did_as_private_system_lines(
    owner: Account, live: LiveServer
) -> None:
    team = (await owner.post("/api/teams", {"name": "Sales", "operator_ids": []})).json()
    steps = {
        "email": {**GREET["email"], "next": "pass"},
        "pass": {"type": "handoff", "team_id": team["id"]},
    }
    await publish(owner, steps, "email")
    shop = await custom_channel(owner)
    first = await shop.deliver("m-1", "hi")
    await runner(live).idle()
    await shop.deliver("m-2", "ana@example.com")
    await runner(live).idle()
    history = await owner.get(f"/api/conversations/{first['conversation_id']}/messages")
    lines = [m for m in history.json()["items"] if m["author"]["kind"] == "system"]
    assert [m["text"] for m in lines] == [
        "Greeting: asked for email",
        "Greeting: saved contact.email",
        "Greeting: handed off to Sales",
    ]
    assert all(m["private"] for m in lines)  # operators only: never the contact's


async def test_an_operator_reply_stops_the_run(owner: Account) -> None:
    await publish(owner, GREET, "hello")
    v = await visitor(owner)
    await v.say("hi")
    await v.bot(), await v.bot()
    reply = await owner.post(
        f"/api/conversations/{v.conversation_id}/messages", {"text": "Hello, a human here"}
    )
    assert reply.status_code == 201

    async def stopped() -> bool:
        return (await runs(owner, v.conversation_id))[0]["status"] == "done"

    assert await eventually(stopped)
    await v.say("ana@example.com")
    await v.say("are you there?")
    history = await owner.get(f"/api/conversations/{v.conversation_id}/messages")
    shown_to_contact = [m for m in history.json()["items"] if not m["private"]]
    assert [m["author"]["kind"] for m in shown_to_contact] == [
        "contact",
        "bot",
        "bot",
        "operator",
        "contact",
        "contact",
    ]


async def test_taking_the_conversation_stops_the_run(owner: Account) -> None:
    await publish(owner, GREET, "hello")
    v = await visitor(owner)
    await v.say("hi")
    await v.bot(), await v.bot()
    taken = await owner.patch(
        f"/api/conversations/{v.conversation_id}", {"assignee_id": owner.operator_id}
    )
    assert taken.status_code == 200
    assert (await runs(owner, v.conversation_id))[0]["status"] == "done"


async def test_handoff_puts_the_conversation_in_the_teams_queue(owner: Account) -> None:
    team = (await owner.post("/api/teams", {"name": "Sales", "operator_ids": []})).json()
    steps = {
        "hello": {"type": "send", "text": "Passing you on", "next": "pass"},
        "pass": {"type": "handoff", "team_id": team["id"]},
    }
    await publish(owner, steps, "hello")
    v = await visitor(owner)
    await v.say("hi")
    await v.bot()

    async def queued() -> list[dict[str, Any]]:
        listed = await owner.get(f"/api/conversations?team={team['id']}")
        return list(listed.json()["items"])

    (conv,) = await eventually(queued)
    assert conv["id"] == v.conversation_id and conv["team_id"] == team["id"]
    assert conv["assignee_id"] is None and conv["status"] == "open"
    assert (await runs(owner, v.conversation_id))[0]["status"] == "handed_off"


async def test_no_flow_runs_for_a_restricted_contact(owner: Account, live: LiveServer) -> None:
    await publish(owner, GREET, "hello", on="message", keywords=["help"])
    v = await visitor(owner)
    await v.say("hello")  # not a keyword: nothing starts, the contact now exists
    conv = (await owner.get(f"/api/conversations/{v.conversation_id}")).json()
    restricted = await owner.patch(
        f"/api/contacts/{conv['contact']['id']}", {"processing": "restricted"}
    )
    assert restricted.status_code == 200
    await v.say("help")
    await v.say("help please")
    await live.app.state.services.flow_runner.idle()  # type: ignore[attr-defined]
    assert await runs(owner, v.conversation_id) == []


async def test_a_keyword_starts_the_flow_that_names_it(owner: Account) -> None:
    steps = {"s": {"type": "send", "text": "Opening hours are 9 to 5."}}
    await publish(owner, steps, "s", on="message", keywords=["hours"])
    v = await visitor(owner)
    await v.say("What are your HOURS?")
    assert (await v.bot())["text"] == "Opening hours are 9 to 5."


def runner(live: LiveServer) -> Any:
    return live.app.state.services.flow_runner  # type: ignore[attr-defined]


class Custom:
    """A custom channel fed through the ingest API, as a provider redelivering would."""

    def __init__(self, owner: Account, channel: dict[str, Any]) -> None:
        self.owner = owner
        self.id = channel["id"]
        self.token = channel["ingest_token"]

    async def deliver(self, external_id: str, text: str, contact: str = "c-1") -> dict[str, Any]:
        response = await self.owner.client.post(
            f"/api/ingest/{self.id}",
            json={
                "messages": [
                    {"external_id": external_id, "contact": {"external_id": contact}, "text": text}
                ]
            },
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 202, response.text
        return dict(response.json()["accepted"][0])


async def custom_channel(owner: Account) -> Custom:
    created = await owner.post("/api/channels", {"kind": "custom", "name": "Shop", "config": {}})
    assert created.status_code == 201, created.text
    return Custom(owner, created.json())


async def bot_texts(owner: Account, conversation_id: str) -> list[str]:
    history = await owner.get(f"/api/conversations/{conversation_id}/messages")
    return [m["text"] for m in history.json()["items"] if m["author"]["kind"] == "bot"]


async def test_a_redelivered_message_advances_a_run_once(owner: Account, live: LiveServer) -> None:
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    first = await shop.deliver("m-1", "hi")
    await runner(live).idle()
    await shop.deliver("m-2", "not an email")
    await runner(live).idle()
    for _ in range(3):  # the provider says it again, and again
        again = await shop.deliver("m-2", "not an email")
        await runner(live).idle()
    assert again["message_id"]
    assert await bot_texts(owner, first["conversation_id"]) == [
        "Welcome to Acme!",
        "What is your email?",
        "That is not an email; try again?",
    ]
    (run,) = await runs(owner, first["conversation_id"])
    assert [s["outcome"] for s in run["steps"]].count("not a valid answer (1 of 2)") == 1


async def test_one_message_delivered_to_the_runner_twice_at_once_advances_once(
    owner: Account, live: LiveServer
) -> None:
    await publish(owner, GREET, "hello")
    shop = await custom_channel(owner)
    first = await shop.deliver("m-1", "hi")
    await runner(live).idle()
    # Two processes holding the same stored message: simulated by feeding it twice at once.
    second = await shop.deliver("m-2", "ana@example.com")
    await runner(live).idle()
    services = live.app.state.services  # type: ignore[attr-defined]
    from storage import models as m

    async with services.db() as db:
        row = await db.get(m.Message, second["message_id"])
        from storage.serialize import message_from_row

        message = message_from_row(row)
    await asyncio.gather(
        runner(live).on_contact_message(message), runner(live).on_contact_message(message)
    )
    assert await bot_texts(owner, first["conversation_id"]) == [
        "Welcome to Acme!",
        "What is your email?",
        "Sales or support?",
    ]


NIGHT_FLOW: dict[str, Any] = {"closed": {"type": "send", "text": "We are closed; back at 9."}}
HOURS = {"timezone": "Europe/Sarajevo", "weekly": {"mon": [["09:00", "17:00"]]}}


@pytest.mark.parametrize(("hour", "answered"), [(22, True), (10, False)])
async def test_outside_hours_answers_at_night_and_not_by_day(
    owner: Account, live: LiveServer, hour: int, answered: bool
) -> None:
    from datetime import UTC, datetime

    assert (await owner.patch("/api/workspace", {"business_hours": HOURS})).status_code == 200
    await publish(owner, NIGHT_FLOW, "closed", on="outside_hours")
    runner(live).clock = lambda: datetime(2026, 12, 7, hour, 0, tzinfo=UTC)  # a Monday
    try:
        shop = await custom_channel(owner)
        first = await shop.deliver("m-1", "anyone there?")
        await runner(live).idle()
        texts = await bot_texts(owner, first["conversation_id"])
    finally:
        from hub.model import utcnow

        runner(live).clock = utcnow
    assert texts == (["We are closed; back at 9."] if answered else [])


async def test_an_ask_timeout_fires_from_the_worker(owner: Account, live: LiveServer) -> None:
    from datetime import timedelta

    from hub.model import utcnow

    steps = {
        "q": {
            "type": "ask",
            "text": "Order number?",
            "input": "number",
            "save_as": "vars.order",
            "timeout_minutes": 30,
            "on_timeout": "late",
            "next": "late",
        },
        "late": {"type": "send", "text": "No worries, an operator will follow up."},
    }
    await publish(owner, steps, "q")
    shop = await custom_channel(owner)
    first = await shop.deliver("m-1", "hi")
    await runner(live).idle()
    assert await runner(live).fire_due_timers() == 0  # not due yet
    runner(live).clock = lambda: utcnow() + timedelta(minutes=31)
    try:  # this test or the in-process worker fires it, whichever claims it first

        async def fired() -> list[str]:
            await runner(live).fire_due_timers()
            texts = await bot_texts(owner, first["conversation_id"])
            return texts if len(texts) > 1 else []

        assert await eventually(fired) == [
            "Order number?",
            "No worries, an operator will follow up.",
        ]
        assert await runner(live).fire_due_timers() == 0  # fired once
    finally:
        runner(live).clock = utcnow
    (run,) = await runs(owner, first["conversation_id"])
    assert run["status"] == "done"


async def test_no_reply_starts_after_the_minutes_without_an_answer_once(
    owner: Account, live: LiveServer
) -> None:
    from datetime import timedelta

    from hub.model import utcnow

    steps = {"s": {"type": "send", "text": "Sorry for the wait; we will answer soon."}}
    await publish(owner, steps, "s", on="no_reply", after_minutes=5)
    shop = await custom_channel(owner)
    first = await shop.deliver("m-1", "hello?")
    await runner(live).idle()
    assert await runner(live).start_no_reply_runs() == 0  # not five minutes yet
    runner(live).clock = lambda: utcnow() + timedelta(minutes=6)
    try:
        assert await runner(live).start_no_reply_runs() == 1
        assert await runner(live).start_no_reply_runs() == 0  # once per unanswered message
    finally:
        runner(live).clock = utcnow
    assert await bot_texts(owner, first["conversation_id"]) == [
        "Sorry for the wait; we will answer soon."
    ]


async def test_no_reply_does_not_start_once_an_operator_answered(
    owner: Account, live: LiveServer
) -> None:
    from datetime import timedelta

    from hub.model import utcnow

    steps = {"s": {"type": "send", "text": "Sorry for the wait."}}
    await publish(owner, steps, "s", on="no_reply", after_minutes=5)
    shop = await custom_channel(owner)
    first = await shop.deliver("m-1", "hello?")
    await owner.post(f"/api/conversations/{first['conversation_id']}/messages", {"text": "Hi!"})
    runner(live).clock = lambda: utcnow() + timedelta(minutes=6)
    try:
        await runner(live).start_no_reply_runs()
    finally:
        runner(live).clock = utcnow
    assert await bot_texts(owner, first["conversation_id"]) == []


async def test_runs_are_counted_by_flow_in_the_metrics(owner: Account, live: LiveServer) -> None:
    steps = {
        "s": {"type": "send", "text": "Hi"},
    }
    flow_id = await publish(
        owner, {**steps, "s": {**steps["s"], "next": "h"}, "h": {"type": "handoff"}}, "s"
    )
    shop = await custom_channel(owner)
    await shop.deliver("m-1", "hello")
    await runner(live).idle()
    metrics = (await owner.client.get("/metrics")).text
    assert f'inviaro_flow_runs_total{{event="started",flow_id="{flow_id}"}} 1.0' in metrics
    assert f'inviaro_flow_runs_total{{event="handed_off",flow_id="{flow_id}"}} 1.0' in metrics


ASSIGN: dict[str, Any] = {
    "route": {"type": "assign", "team_id": "", "next": "said"},
    "said": {"type": "send", "text": "Routed."},
}


async def assign_flow(owner: Account, team_id: str) -> None:
    steps = {**ASSIGN, "route": {**ASSIGN["route"], "team_id": team_id}}
    await publish(owner, steps, "route")


async def conversation_of(owner: Account, live: LiveServer, contact: str) -> dict[str, Any]:
    shop = await custom_channel(owner)
    first = await shop.deliver(f"m-{contact}", "hello", contact=contact)
    await runner(live).idle()
    return dict((await owner.get(f"/api/conversations/{first['conversation_id']}")).json())


async def test_assign_to_a_team_picks_an_online_member_in_turn(
    owner: Account, live: LiveServer
) -> None:
    from tests.helpers import add_operator
    from tests.web.realtime import operator_socket

    agent = await add_operator(owner, "agent", live.url)
    members = sorted([owner.operator_id, agent.operator_id])
    team = (await owner.post("/api/teams", {"name": "Sales", "operator_ids": members})).json()
    await assign_flow(owner, team["id"])
    await operator_socket(owner, live.ws_url)
    await operator_socket(agent, live.ws_url)
    first = await conversation_of(owner, live, "c-1")
    second = await conversation_of(owner, live, "c-2")
    third = await conversation_of(owner, live, "c-3")
    await agent.client.aclose()
    assert [c["assignee_id"] for c in (first, second, third)] == [*members, members[0]]
    assert {c["team_id"] for c in (first, second, third)} == {team["id"]}


async def test_assign_to_a_team_with_nobody_online_leaves_it_in_the_queue(
    owner: Account, live: LiveServer
) -> None:
    team = (
        await owner.post("/api/teams", {"name": "Night", "operator_ids": [owner.operator_id]})
    ).json()
    await assign_flow(owner, team["id"])
    conv = await conversation_of(owner, live, "c-1")
    assert conv["assignee_id"] is None and conv["team_id"] == team["id"]
