"""Operators, roles, workspace settings, the audit log, and isolation between workspaces."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tests.helpers import (
    PASSWORD,
    add_operator,
    login,
    new_client,
    random_address,
    signup,
    unique_email,
)

if TYPE_CHECKING:
    from conftest import LiveServer

WIDGET = {"kind": "widget", "name": "Site", "config": {"allowed_origins": ["https://a.example"]}}


async def test_owner_adds_an_operator_who_can_log_in(live: LiveServer) -> None:
    async with new_client(live.url) as c:
        owner = await signup(c)
        agent = await add_operator(owner, "agent")
        listed = await owner.get("/api/operators")
        await agent.client.aclose()
    assert agent.operator["role"] == "agent"
    assert agent.workspace_id == owner.workspace_id
    assert {o["id"] for o in listed.json()["items"]} == {owner.operator_id, agent.operator_id}


async def test_adding_an_operator_with_a_taken_email_is_409(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    response = await owner.post(
        "/api/operators",
        json={"email": owner.email, "name": "Twin", "password": PASSWORD, "role": "agent"},
    )
    assert response.status_code == 409


async def test_unknown_role_is_422(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    response = await owner.post(
        "/api/operators",
        json={"email": unique_email(), "name": "X", "password": PASSWORD, "role": "god"},
    )
    assert response.status_code == 422 and "role" in response.json()["detail"]


async def test_agent_cannot_add_operators(live: LiveServer) -> None:
    async with new_client(live.url) as c:
        owner = await signup(c)
        agent = await add_operator(owner, "agent")
        response = await agent.post(
            "/api/operators",
            json={"email": unique_email(), "name": "X", "password": PASSWORD, "role": "agent"},
        )
        await agent.client.aclose()
    assert response.status_code == 403


async def test_agent_cannot_add_or_delete_channels(live: LiveServer) -> None:
    async with new_client(live.url) as c:
        owner = await signup(c)
        channel = (await owner.post("/api/channels", json=WIDGET)).json()
        agent = await add_operator(owner, "agent")
        created = await agent.post("/api/channels", json=WIDGET)
        deleted = await agent.delete(f"/api/channels/{channel['id']}")
        await agent.client.aclose()
    assert created.status_code == 403
    assert deleted.status_code == 403


async def test_admin_cannot_make_an_owner(live: LiveServer) -> None:
    async with new_client(live.url) as c:
        owner = await signup(c)
        admin = await add_operator(owner, "admin")
        response = await admin.post(
            "/api/operators",
            json={"email": unique_email(), "name": "X", "password": PASSWORD, "role": "owner"},
        )
        await admin.client.aclose()
    assert response.status_code == 403


async def test_disabling_an_operator_ends_their_sessions(live: LiveServer) -> None:
    async with new_client(live.url) as c:
        owner = await signup(c)
        agent = await add_operator(owner, "agent")
        response = await owner.patch(f"/api/operators/{agent.operator_id}", json={"disabled": True})
        assert response.status_code == 200 and response.json()["disabled"] is True
        assert (await agent.get("/api/me")).status_code == 401
        relogin = await login(agent.client, agent.email)
        await agent.client.aclose()
    assert relogin.status_code == 401


async def test_owner_cannot_disable_themselves(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    response = await owner.patch(f"/api/operators/{owner.operator_id}", json={"disabled": True})
    assert response.status_code == 403


async def test_workspace_patch_validates_and_returns_the_settings(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    response = await owner.patch(
        "/api/workspace",
        json={
            "name": "Renamed",
            "retention_days": 30,
            "allowed_origins": ["https://shop.example/"],
            "business_hours": {"timezone": "Europe/Ljubljana"},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Renamed" and body["retention_days"] == 30
    assert body["allowed_origins"] == ["https://shop.example"]
    assert (await owner.get("/api/workspace")).json() == body
    bad = await owner.patch("/api/workspace", json={"allowed_origins": ["javascript:alert(1)"]})
    assert bad.status_code == 422 and "allowed_origins" in bad.json()["detail"]


async def test_audit_lists_logins_newest_first_without_personal_data(
    live: LiveServer,
) -> None:
    async with new_client(live.url) as c:
        owner = await signup(c)
        await c.post(
            "/api/login",
            json={"email": owner.email, "password": "a wrong password"},
            headers={"X-Forwarded-For": random_address()},
        )
        await login(c, owner.email)
        owner.csrf_token = (await c.get("/api/me")).json()["csrf_token"]
        await owner.post("/api/channels", json=WIDGET)
        response = await owner.get("/api/audit")
    assert response.status_code == 200
    items = response.json()["items"]
    actions = [i["action"] for i in items]
    assert actions[:4] == ["channel_created", "login", "login_failed", "signup"]
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)
    failed = items[actions.index("login_failed")]
    assert failed["target"] == {"kind": "operator", "id": owner.operator_id, "name": "Ada Owner"}
    assert owner.email not in response.text and "wrong password" not in response.text


async def test_audit_pages_with_a_cursor(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    for i in range(3):
        await owner.patch("/api/workspace", json={"name": f"Name {i}"})
    first = (await owner.get("/api/audit", params={"limit": 2})).json()
    second = await owner.get("/api/audit", params={"limit": 2, "cursor": first["next_cursor"]})
    ids = [i["id"] for i in first["items"]] + [i["id"] for i in second.json()["items"]]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert second.json()["next_cursor"] is None


async def test_workspace_cannot_touch_another_workspaces_resources(live: LiveServer) -> None:
    async with new_client(live.url) as ca, new_client(live.url) as cb:
        a = await signup(ca)
        b = await signup(cb)
        b_channel = (await b.post("/api/channels", json=WIDGET)).json()["id"]
        b_agent = await add_operator(b, "agent")
        await b_agent.client.aclose()
        answers = [
            await a.get(f"/api/channels/{b_channel}"),
            await a.delete(f"/api/channels/{b_channel}"),
            await a.get(f"/api/operators/{b_agent.operator_id}"),
            await a.patch(f"/api/operators/{b_agent.operator_id}", json={"disabled": True}),
            await a.patch(f"/api/operators/{b.operator_id}", json={"role": "agent"}),
        ]
        lists = [
            await a.get("/api/channels"),
            await a.get("/api/operators"),
            await a.get("/api/audit"),
            await a.get("/api/workspace"),
        ]
        b_still = await b.get(f"/api/channels/{b_channel}")
        b_agent_still = await b.get(f"/api/operators/{b_agent.operator_id}")
    assert [r.status_code for r in answers] == [404] * 5
    for response in lists:
        assert response.status_code == 200
        for foreign in (b.workspace_id, b.operator_id, b_agent.operator_id, b_channel):
            assert foreign not in response.text
    assert b_still.status_code == 200
    assert b_agent_still.json()["disabled"] is False and b_agent_still.json()["role"] == "agent"
