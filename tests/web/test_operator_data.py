"""An operator's own data: their export, and an owner deleting their account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.helpers import PASSWORD, Account, add_operator, api_token, auth_headers, login, signup
from tests.web.realtime import close_all_sockets, operator_socket


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> AsyncIterator[Account]:
    yield await signup(client, name="Olga Owner")
    await close_all_sockets()


@pytest.fixture
async def agent(owner: Account) -> AsyncIterator[Account]:
    agent = await add_operator(owner, "agent")
    yield agent
    await agent.client.aclose()


async def conversation_with_reply(owner: Account, author: Account, text: str) -> str:
    """A custom channel's conversation in which ``author`` replied ``text``."""
    channel = await owner.post("/api/channels", json={"kind": "custom", "name": "API"})
    assert channel.status_code == 201, channel.text
    ingest = await owner.client.post(
        f"/api/ingest/{channel.json()['id']}",
        json={"messages": [{"external_id": "m1", "contact": {"external_id": "c1"}, "text": "hi"}]},
        headers=auth_headers(channel.json()["ingest_token"]),
    )
    assert ingest.status_code == 202, ingest.text
    conv = ingest.json()["accepted"][0]["conversation_id"]
    sent = await author.post(f"/api/conversations/{conv}/messages", json={"text": text})
    assert sent.status_code == 201, sent.text
    return str(conv)


async def test_an_operator_downloads_their_own_data(owner: Account, agent: Account) -> None:
    await conversation_with_reply(owner, agent, "written by the agent")
    await conversation_with_reply(owner, owner, "written by the owner")
    await api_token(agent, "my script")
    response = await agent.get("/api/me/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    document = response.json()
    assert document["operator"]["id"] == agent.operator_id
    assert document["operator"]["email"] == agent.email
    assert [m["text"] for m in document["messages"]] == ["written by the agent"]
    assert [t["name"] for t in document["api_tokens"]] == ["my script"]
    assert document["sessions"] and all("ip" in s for s in document["sessions"])
    actions = {a["action"] for a in document["audit"]}
    assert {"operator_added", "login", "token_created"} <= actions


async def test_the_export_holds_no_secret_or_hash(agent: Account) -> None:
    text = (await agent.get("/api/me/export")).text
    for secret in ("password_hash", "token_hash", "totp_secret", "csrf", "argon2", PASSWORD):
        assert secret not in text


async def test_the_export_is_audited(agent: Account, owner: Account) -> None:
    await agent.get("/api/me/export")
    entries = (await owner.get("/api/audit")).json()["items"]
    assert any(
        e["action"] == "operator_data_exported" and e["actor"]["id"] == agent.operator_id
        for e in entries
    )


async def test_the_export_needs_a_signed_in_operator(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/me/export")).status_code == 401


async def test_an_owner_deletes_an_operator_and_their_messages_stay_as_former_operator(
    owner: Account, agent: Account, live: LiveServer
) -> None:
    conv = await conversation_with_reply(owner, agent, "kept after deletion")
    token = await api_token(agent)
    socket = await operator_socket(agent, live.ws_url)
    response = await owner.delete(f"/api/operators/{agent.operator_id}")
    assert response.status_code == 204
    messages = (await owner.get(f"/api/conversations/{conv}/messages")).json()["items"]
    [kept] = [m for m in messages if m["text"] == "kept after deletion"]
    assert kept["author"]["name"] == "former operator"
    assert (await agent.get("/api/me")).status_code == 401
    async with httpx.AsyncClient(base_url=live.url) as other:
        assert (await other.get("/api/me", headers=auth_headers(token))).status_code == 401
        assert (await login(other, agent.email)).status_code == 401
    await socket.ws.wait_closed()
    assert socket.ws.close_code == 1008
    listed = (await owner.get("/api/operators")).json()["items"]
    assert agent.operator_id not in [o["id"] for o in listed]
    assert agent.email not in (await owner.get(f"/api/conversations/{conv}/messages")).text


async def test_deleting_an_operator_is_audited(owner: Account, agent: Account) -> None:
    await owner.delete(f"/api/operators/{agent.operator_id}")
    entries = (await owner.get("/api/audit")).json()["items"]
    assert any(
        e["action"] == "operator_deleted"
        and (e["target"]["kind"], e["target"]["id"]) == ("operator", agent.operator_id)
        and e["actor"]["id"] == owner.operator_id
        for e in entries
    )


async def test_only_an_owner_deletes_operators(owner: Account, agent: Account) -> None:
    admin = await add_operator(owner, "admin")
    try:
        assert (await admin.delete(f"/api/operators/{agent.operator_id}")).status_code == 403
        assert (await agent.delete(f"/api/operators/{admin.operator_id}")).status_code == 403
    finally:
        await admin.client.aclose()


async def test_an_owner_does_not_delete_themselves(owner: Account) -> None:
    assert (await owner.delete(f"/api/operators/{owner.operator_id}")).status_code == 403


async def test_an_operator_of_another_workspace_answers_404(
    owner: Account, live: LiveServer
) -> None:
    async with httpx.AsyncClient(base_url=live.url) as other_client:
        other = await signup(other_client)
        response = await owner.delete(f"/api/operators/{other.operator_id}")
        assert response.status_code == 404
        assert (await other.get("/api/me")).status_code == 200


async def test_a_deleted_operator_answers_404_afterwards(owner: Account, agent: Account) -> None:
    await owner.delete(f"/api/operators/{agent.operator_id}")
    assert (await owner.delete(f"/api/operators/{agent.operator_id}")).status_code == 404
    assert (await owner.get(f"/api/operators/{agent.operator_id}")).status_code == 404
