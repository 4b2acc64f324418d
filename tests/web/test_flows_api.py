"""The Flows API a Studio drives: drafts, validation with every problem on its step,
numbered published versions, unpublishing, and a "try it" simulation that stores nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import add_operator, signup

STEPS: dict[str, Any] = {
    "hello": {"type": "send", "text": "Hi {{contact.name}}!", "next": "email"},
    "email": {
        "type": "ask",
        "text": "Your email?",
        "input": "email",
        "save_as": "contact.email",
        "retry_text": "That is not an email.",
        "next": "team",
    },
    "team": {
        "type": "choose",
        "text": "Sales or support?",
        "save_as": "vars.team",
        "options": [{"label": "Sales", "next": "bye"}, {"label": "Support", "next": "bye"}],
    },
    "bye": {"type": "send", "text": "Thanks, {{vars.team}} will write to {{contact.email}}."},
}
FLOW = {
    "name": "Greeting",
    "trigger": {"on": "conversation_started"},
    "start": "hello",
    "steps": STEPS,
}


async def test_a_created_flow_is_a_draft_that_reads_back(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    created = await owner.post("/api/flows", FLOW)
    assert created.status_code == 201
    flow = created.json()
    assert flow["status"] == "draft" and flow["version"] is None and flow["priority"] == 0
    assert (await owner.get(f"/api/flows/{flow['id']}")).json() == flow
    assert [f["id"] for f in (await owner.get("/api/flows")).json()["items"]] == [flow["id"]]


async def test_validate_answers_every_problem_with_its_step(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    steps = {
        **STEPS,
        "hello": {"type": "send", "text": "Hi", "next": "nowhere"},
        "odd": {"type": "dance"},
    }
    response = await owner.post("/api/flows/validate", {**FLOW, "steps": steps})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_flow" and body["detail"]
    assert {p["step"] for p in body["problems"]} >= {"hello", "odd"}
    good = await owner.post("/api/flows/validate", FLOW)
    assert good.status_code == 200 and good.json() == {"problems": []}


async def test_an_invalid_draft_is_saved_but_cannot_be_published(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    flow = (await owner.post("/api/flows", {**FLOW, "start": "missing"})).json()
    refused = await owner.post(f"/api/flows/{flow['id']}/publish")
    assert refused.status_code == 422 and refused.json()["problems"]
    assert (await owner.get(f"/api/flows/{flow['id']}")).json()["status"] == "draft"


async def test_publishing_freezes_numbered_versions(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    flow = (await owner.post("/api/flows", FLOW)).json()
    first = await owner.post(f"/api/flows/{flow['id']}/publish")
    assert first.status_code == 200 and first.json()["version"] == 1
    assert first.json()["status"] == "published"
    edited = await owner.patch(f"/api/flows/{flow['id']}", {"name": "Greeting 2", "priority": 5})
    assert edited.json()["version"] == 1 and edited.json()["priority"] == 5
    assert (await owner.post(f"/api/flows/{flow['id']}/publish")).json()["version"] == 2


async def test_unpublish_leaves_a_draft(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    flow = (await owner.post("/api/flows", FLOW)).json()
    await owner.post(f"/api/flows/{flow['id']}/publish")
    response = await owner.post(f"/api/flows/{flow['id']}/unpublish")
    assert response.status_code == 200 and response.json()["status"] == "draft"


async def test_patch_edits_the_draft_document(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    flow = (await owner.post("/api/flows", FLOW)).json()
    steps = {"hello": {"type": "send", "text": "Hello"}}
    patched = (await owner.patch(f"/api/flows/{flow['id']}", {"steps": steps})).json()
    assert patched["steps"] == steps and patched["start"] == "hello"
    assert patched["trigger"] == FLOW["trigger"]


async def test_a_deleted_flow_is_gone(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    flow = (await owner.post("/api/flows", FLOW)).json()
    assert (await owner.delete(f"/api/flows/{flow['id']}")).status_code == 204
    assert (await owner.get(f"/api/flows/{flow['id']}")).status_code == 404


async def test_another_workspaces_flow_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    flow = (await owner.post("/api/flows", FLOW)).json()
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other_client:
        other = await signup(other_client)
        for response in (
            await other.get(f"/api/flows/{flow['id']}"),
            await other.patch(f"/api/flows/{flow['id']}", {"name": "mine"}),
            await other.post(f"/api/flows/{flow['id']}/publish"),
            await other.delete(f"/api/flows/{flow['id']}"),
        ):
            assert response.status_code == 404


async def test_agents_read_flows_but_do_not_edit_them(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    flow = (await owner.post("/api/flows", FLOW)).json()
    agent = await add_operator(owner, "agent", str(client.base_url))
    assert (await agent.get(f"/api/flows/{flow['id']}")).status_code == 200
    assert (await agent.post("/api/flows", FLOW)).status_code == 403
    assert (await agent.post(f"/api/flows/{flow['id']}/publish")).status_code == 403
    await agent.client.aclose()


async def test_bad_bodies_are_422_with_a_sentence(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    for body in (
        {**FLOW, "name": ""},
        {**FLOW, "steps": []},
        {**FLOW, "priority": "high"},
        {**FLOW, "trigger": "always"},
    ):
        response = await owner.post("/api/flows", body)
        assert response.status_code == 422 and response.json()["detail"]


async def test_simulate_runs_a_draft_through_the_interpreter(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    response = await owner.post(
        "/api/flows/simulate",
        {
            **FLOW,
            "contact": {"name": "Ana"},
            "replies": [{"text": "not an email"}, {"text": "ana@example.com"}, {"text": "2"}],
        },
    )
    assert response.status_code == 200
    body = response.json()
    bot = [line["text"] for line in body["transcript"] if line["from"] == "bot"]
    assert bot == [
        "Hi Ana!",
        "Your email?",
        "That is not an email.",
        "Sales or support?",
        "Thanks, Support will write to ana@example.com.",
    ]
    offered = [line for line in body["transcript"] if line.get("options")]
    assert offered[0]["options"] == [
        {"label": "Sales", "value": "1"},
        {"label": "Support", "value": "2"},
    ]
    assert body["status"] == "done" and body["contact"]["email"] == "ana@example.com"
    assert (await owner.get("/api/flows")).json()["items"] == []


async def test_a_simulation_names_every_bad_field_of_its_contact_and_replies(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    body = {**FLOW, "contact": {"name": 5}, "replies": [{"text": 1}], "now": "yesterday"}
    response = await owner.post("/api/flows/simulate", body)
    assert response.status_code == 422 and response.json()["error"] == "invalid"
    assert [p["field"] for p in response.json()["problems"]] == ["contact", "replies", "now"]


async def test_simulate_takes_the_error_branch_of_an_http_step(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    steps = {
        "call": {
            "type": "http",
            "url": "https://api.example.com/x",
            "next": "ok",
            "on_error": "bad",
        },
        "ok": {"type": "send", "text": "ok"},
        "bad": {"type": "send", "text": "bad"},
    }
    body = (
        await owner.post("/api/flows/simulate", {**FLOW, "start": "call", "steps": steps})
    ).json()
    assert [line["text"] for line in body["transcript"]] == ["bad"]


async def test_simulate_uses_the_workspaces_hours_at_the_given_time(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    hours = {"timezone": "Europe/Sarajevo", "weekly": {"mon": [["09:00", "17:00"]]}}
    assert (await owner.patch("/api/workspace", {"business_hours": hours})).status_code == 200
    steps = {
        "h": {"type": "hours", "open": "o", "closed": "c"},
        "o": {"type": "send", "text": "open"},
        "c": {"type": "send", "text": "closed"},
    }
    flow = {**FLOW, "start": "h", "steps": steps}
    day = await owner.post("/api/flows/simulate", {**flow, "now": "2026-12-07T10:00:00Z"})
    night = await owner.post("/api/flows/simulate", {**flow, "now": "2026-12-07T22:00:00Z"})
    assert day.json()["transcript"][0]["text"] == "open"
    assert night.json()["transcript"][0]["text"] == "closed"


async def test_business_hours_are_validated(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    for hours in (
        {"timezone": "Mars/Olympus"},
        {"timezone": "UTC", "weekly": {"mon": [["9", "5"]]}},
        {"timezone": "UTC", "weekly": {"funday": []}},
        {"timezone": "UTC", "holidays": ["Christmas"]},
    ):
        response = await owner.patch("/api/workspace", {"business_hours": hours})
        assert response.status_code == 422 and response.json()["detail"]
