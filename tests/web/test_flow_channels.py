"""A flow's choice rendered natively on WhatsApp, captured at the provider boundary: a
fake Graph API on loopback reached through ``INVIARO_PROVIDER_ORIGINS``. Reply buttons for
up to 3 options, a list for more; a tapped button comes back with the option's value."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests import loopback
from tests.conftest import free_port
from tests.web.webhook_hub import (
    PHONE_NUMBER_ID,
    Hub,
    hub_server,
    post_meta,
    send_due,
    unique,
    wa_message,
)


class Graph:
    """WhatsApp's messages endpoint on loopback, keeping every payload sent to it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sent: list[dict[str, Any]] = []
        # Recipients WhatsApp refuses to message (error 131026, as for a number not on it).
        self.refused: set[str] = set()
        self.app = Starlette(
            routes=[Route("/v21.0/{phone}/messages", self.messages, methods=["POST"])]
        )

    async def messages(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.sent.append(body)
        if body.get("to") in self.refused:
            error = {"message": "Message undeliverable", "type": "OAuthException", "code": 131026}
            return JSONResponse({"error": error}, status_code=400)
        return JSONResponse({"messages": [{"id": f"wamid.{uuid.uuid4().hex}"}]})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Graph]:
        async with loopback.serving(self.app, self.port):
            yield self


@pytest.fixture(scope="module")
async def graph() -> AsyncIterator[Graph]:
    async with Graph().serving() as serving:
        yield serving


@pytest.fixture(scope="module")
async def hub(db_url: str, graph: Graph) -> AsyncIterator[Hub]:
    origins = (("https://graph.facebook.com", f"http://127.0.0.1:{graph.port}"),)
    async with hub_server(db_url, provider_origins=origins) as started:
        yield started


def options(count: int) -> list[dict[str, str]]:
    labels = ["Sales", "Support", "Billing", "Returns", "Other"][:count]
    return [{"label": label, "next": "done"} for label in labels]


async def publish_choice(hub: Hub, count: int) -> None:
    steps = {
        "pick": {
            "type": "choose",
            "text": "How can we help?",
            "save_as": "vars.topic",
            "options": options(count),
        },
        "done": {"type": "send", "text": "{{vars.topic}}: an operator will write soon."},
    }
    body = {
        "name": f"Menu {uuid.uuid4().hex[:6]}",
        "trigger": {"on": "conversation_started"},
        "start": "pick",
        "steps": steps,
        "priority": 1000,
    }
    flow = (await hub.owner.post("/api/flows", body)).json()
    assert (await hub.owner.post(f"/api/flows/{flow['id']}/publish")).status_code == 200
    return None


async def unpublish_all(hub: Hub) -> None:
    for flow in (await hub.owner.get("/api/flows")).json()["items"]:
        await hub.owner.post(f"/api/flows/{flow['id']}/unpublish")


async def deliver(
    hub: Hub, graph: Graph, channel: str, data: dict[str, Any]
) -> list[dict[str, Any]]:
    """Post the webhook, let the flow answer, run the worker once: what reached Graph for
    this sender (the worker also sends what other tests left queued in the shared hub)."""
    sender = data["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    before = len(graph.sent)
    assert (await post_meta(hub, channel, data)).status_code == 200
    await hub.services.flow_runner.idle()
    await send_due(hub)
    return [sent for sent in graph.sent[before:] if sent.get("to") == sender]


def tap(sender: str, button_id: str, title: str) -> dict[str, Any]:
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
    message = data["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message["type"] = "interactive"
    message["interactive"] = {
        "type": "button_reply",
        "button_reply": {"id": button_id, "title": title},
    }
    return data


def text(sender: str, body: str) -> dict[str, Any]:
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
    data["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = body
    return data


async def test_up_to_three_options_go_as_reply_buttons_and_a_tap_picks(
    hub: Hub, graph: Graph
) -> None:
    await unpublish_all(hub)
    await publish_choice(hub, 3)
    channel = await hub.channel("whatsapp", phone_number_id=PHONE_NUMBER_ID)
    sender = unique("4917")
    (offer,) = await deliver(hub, graph, channel, text(sender, "hello"))
    assert offer["to"] == sender and offer["type"] == "interactive"
    assert offer["interactive"] == {
        "type": "button",
        "body": {"text": "How can we help?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "1", "title": "Sales"}},
                {"type": "reply", "reply": {"id": "2", "title": "Support"}},
                {"type": "reply", "reply": {"id": "3", "title": "Billing"}},
            ]
        },
    }
    (answer,) = await deliver(hub, graph, channel, tap(sender, "2", "Support"))
    assert answer["text"]["body"] == "Support: an operator will write soon."


async def test_more_options_go_as_a_list(hub: Hub, graph: Graph) -> None:
    await unpublish_all(hub)
    await publish_choice(hub, 5)
    channel = await hub.channel("whatsapp", phone_number_id=PHONE_NUMBER_ID)
    sender = unique("4917")
    (offer,) = await deliver(hub, graph, channel, text(sender, "hello"))
    interactive = offer["interactive"]
    assert interactive["type"] == "list"
    rows = interactive["action"]["sections"][0]["rows"]
    assert [(r["id"], r["title"]) for r in rows] == [
        ("1", "Sales"),
        ("2", "Support"),
        ("3", "Billing"),
        ("4", "Returns"),
        ("5", "Other"),
    ]
    (answer,) = await deliver(hub, graph, channel, text(sender, "4"))
    assert answer["text"]["body"] == "Returns: an operator will write soon."


async def test_a_typed_label_picks_on_whatsapp_too(hub: Hub, graph: Graph) -> None:
    await unpublish_all(hub)
    await publish_choice(hub, 3)
    channel = await hub.channel("whatsapp", phone_number_id=PHONE_NUMBER_ID)
    sender = unique("4917")
    await deliver(hub, graph, channel, text(sender, "hello"))
    (answer,) = await deliver(hub, graph, channel, text(sender, "billing"))
    assert answer["text"]["body"] == "Billing: an operator will write soon."


async def test_outside_the_24_hour_window_a_flow_hands_off_instead_of_sending(
    hub: Hub, graph: Graph
) -> None:
    from datetime import timedelta

    from hub.model import utcnow

    await unpublish_all(hub)
    steps = {
        "q": {
            "type": "ask",
            "text": "Your order number?",
            "input": "number",
            "save_as": "vars.order",
            "timeout_minutes": 1500,
            "on_timeout": "late",
            "next": "late",
        },
        "late": {"type": "send", "text": "Still need help?"},
    }
    body = {
        "name": "Late",
        "trigger": {"on": "conversation_started"},
        "start": "q",
        "steps": steps,
        "priority": 1000,
    }
    flow = (await hub.owner.post("/api/flows", body)).json()
    assert (await hub.owner.post(f"/api/flows/{flow['id']}/publish")).status_code == 200
    channel = await hub.channel("whatsapp", phone_number_id=PHONE_NUMBER_ID)
    sent = await deliver(hub, graph, channel, text(unique("4917"), "hello"))
    assert [s["text"]["body"] for s in sent] == ["Your order number?"]
    runner = hub.services.flow_runner
    runner.clock = lambda: utcnow() + timedelta(hours=26)  # the timeout fires past 24 h
    try:
        assert await runner.fire_due_timers() == 1
        await send_due(hub)
    finally:
        runner.clock = utcnow
    conversations = (await hub.owner.get("/api/conversations")).json()["items"]
    conv = next(c for c in conversations if c["channel"]["id"] == channel)
    (run,) = (await hub.owner.get(f"/api/conversations/{conv['id']}/flow-runs")).json()["items"]
    assert run["status"] == "handed_off"
    assert run["steps"][-1]["outcome"] == "outside the 24-hour window: handed off"
    stored = (await hub.owner.get(f"/api/conversations/{conv['id']}/messages")).json()["items"]
    assert [m["text"] for m in stored if m["author"]["kind"] == "bot"] == ["Your order number?"]


async def publish_steps(hub: Hub, steps: dict[str, Any], start: str) -> None:
    await unpublish_all(hub)
    body = {
        "name": f"Flow {uuid.uuid4().hex[:6]}",
        "trigger": {"on": "conversation_started"},
        "start": start,
        "steps": steps,
        "priority": 1000,
    }
    flow = (await hub.owner.post("/api/flows", body)).json()
    published = await hub.owner.post(f"/api/flows/{flow['id']}/publish")
    assert published.status_code == 200, published.text


async def conversation_on(hub: Hub, channel: str) -> str:
    conversations = (await hub.owner.get("/api/conversations")).json()["items"]
    return str(next(c for c in conversations if c["channel"]["id"] == channel)["id"])


async def only_run(hub: Hub, conversation_id: str) -> dict[str, Any]:
    url = f"/api/conversations/{conversation_id}/flow-runs"
    (run,) = (await hub.owner.get(url)).json()["items"]
    return dict(run)


async def system_lines(hub: Hub, conversation_id: str) -> list[str]:
    url = f"/api/conversations/{conversation_id}/messages"
    stored = (await hub.owner.get(url)).json()["items"]
    return [m["text"] for m in stored if m["author"]["kind"] == "system" and m["private"]]


ASK_ORDER: dict[str, Any] = {
    "q": {
        "type": "ask",
        "text": "Your order number?",
        "input": "number",
        "save_as": "vars.order",
        "next": "thanks",
    },
    "thanks": {"type": "send", "text": "Thanks."},
}


async def test_a_message_the_channel_refuses_fails_the_run_with_the_reason(
    hub: Hub, graph: Graph
) -> None:
    await publish_steps(hub, ASK_ORDER, "q")
    channel = await hub.channel("whatsapp", phone_number_id=PHONE_NUMBER_ID)
    sender = unique("4917")
    graph.refused.add(sender)
    await deliver(hub, graph, channel, text(sender, "hello"))
    await hub.services.flow_runner.idle()
    conv = await conversation_on(hub, channel)
    run = await only_run(hub, conv)
    assert run["status"] == "failed"
    assert "cannot receive this message" in run["error"]
    assert any("failed: the channel refused" in line for line in await system_lines(hub, conv))
    async with hub.live.client() as client:
        metrics = (await client.get("/metrics")).text
    assert f'inviaro_flow_runs_total{{event="failed",flow_id="{run["flow_id"]}"}} 1.0' in metrics


async def test_a_message_the_channel_refuses_follows_the_steps_error_branch(
    hub: Hub, graph: Graph
) -> None:
    steps = {
        **ASK_ORDER,
        "q": {**ASK_ORDER["q"], "on_error": "human"},
        "human": {"type": "handoff"},
    }
    await publish_steps(hub, steps, "q")
    channel = await hub.channel("whatsapp", phone_number_id=PHONE_NUMBER_ID)
    sender = unique("4917")
    graph.refused.add(sender)
    await deliver(hub, graph, channel, text(sender, "hello"))
    await hub.services.flow_runner.idle()
    run = await only_run(hub, await conversation_on(hub, channel))
    assert run["status"] == "handed_off"
    assert [s["step"] for s in run["steps"]][-2:] == ["q", "human"]


async def test_outside_the_24_hour_window_a_step_that_names_a_template_sends_it(
    hub: Hub, graph: Graph
) -> None:
    from datetime import timedelta

    from hub.model import utcnow

    template = {"name": "still_there", "language": "en_US", "parameters": ["{{vars.order}}"]}
    steps = {
        "q": {**ASK_ORDER["q"], "timeout_minutes": 1500, "on_timeout": "late"},
        "late": {"type": "send", "text": "Still need help?", "template": template},
        "thanks": ASK_ORDER["thanks"],
    }
    await publish_steps(hub, steps, "q")
    channel = await hub.channel("whatsapp", phone_number_id=PHONE_NUMBER_ID)
    sender = unique("4917")
    await deliver(hub, graph, channel, text(sender, "hello"))
    before = len(graph.sent)
    runner = hub.services.flow_runner
    runner.clock = lambda: utcnow() + timedelta(hours=26)  # the timeout fires past 24 h
    try:
        assert await runner.fire_due_timers() == 1
        await send_due(hub)
    finally:
        runner.clock = utcnow
    (sent,) = [s for s in graph.sent[before:] if s.get("to") == sender]
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "still_there"
    run = await only_run(hub, await conversation_on(hub, channel))
    assert run["status"] == "done"
    outcomes = [s["outcome"] for s in run["steps"]]
    assert "outside the 24-hour window: sent the template 'still_there'" in outcomes
