"""Canned responses: workspace-wide (managers write, everyone reads) and personal (only
their operator sees and writes them); shortcuts unique per scope; bodies checked field by
field."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, new_client, signup

URL = "/api/canned-responses"


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client)


@pytest.fixture
async def agent(owner: Account) -> AsyncIterator[Account]:
    agent = await add_operator(owner, "agent")
    yield agent
    await agent.client.aclose()


async def shortcuts(account: Account) -> list[str]:
    response = await account.get(URL)
    assert response.status_code == 200
    return [c["shortcut"] for c in response.json()["items"]]


async def test_a_shared_response_is_offered_to_every_operator(
    owner: Account, agent: Account
) -> None:
    made = await owner.post(URL, {"shortcut": "hello", "text": "Hi {{contact.name}}!"})
    assert made.status_code == 201, made.text
    assert (made.json()["personal"], made.json()["text"]) == (False, "Hi {{contact.name}}!")
    assert await shortcuts(agent) == ["hello"]


async def test_a_personal_response_is_its_operators_alone(owner: Account, agent: Account) -> None:
    mine = await agent.post(URL, {"shortcut": "sig", "text": "Agent here", "personal": True})
    assert mine.status_code == 201 and mine.json()["personal"] is True
    assert await shortcuts(agent) == ["sig"]
    assert await shortcuts(owner) == []
    # The owner can neither change nor delete it: it does not exist for them.
    assert (await owner.patch(f"{URL}/{mine.json()['id']}", {"text": "x"})).status_code == 404
    assert (await owner.delete(f"{URL}/{mine.json()['id']}")).status_code == 404
    changed = await agent.patch(f"{URL}/{mine.json()['id']}", {"text": "Agent, at your service"})
    assert changed.status_code == 200 and changed.json()["text"] == "Agent, at your service"
    assert (await agent.delete(f"{URL}/{mine.json()['id']}")).status_code == 204
    assert await shortcuts(agent) == []


async def test_agents_may_not_write_shared_responses(owner: Account, agent: Account) -> None:
    refused = await agent.post(URL, {"shortcut": "x", "text": "y"})
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    shared = await owner.post(URL, {"shortcut": "x", "text": "y"})
    assert (await agent.patch(f"{URL}/{shared.json()['id']}", {"text": "z"})).status_code == 403
    assert (await agent.delete(f"{URL}/{shared.json()['id']}")).status_code == 403


async def test_a_shortcut_is_unique_in_its_scope(owner: Account) -> None:
    assert (await owner.post(URL, {"shortcut": "bye", "text": "a"})).status_code == 201
    again = await owner.post(URL, {"shortcut": "bye", "text": "b"})
    assert (again.status_code, again.json()["error"]) == (409, "shortcut_taken")
    personal = await owner.post(URL, {"shortcut": "bye", "text": "c", "personal": True})
    assert personal.status_code == 201


async def test_a_bad_body_names_every_field(owner: Account) -> None:
    bad = await owner.post(URL, {"shortcut": "has space", "text": "", "personal": "no"})
    assert bad.status_code == 422
    body = bad.json()
    assert body["error"] == "invalid" and body["detail"]
    assert [p["field"] for p in body["problems"]] == ["shortcut", "text", "personal"]
    unknown = await owner.post(URL, {"shortcut": "ok", "text": "ok", "color": "red"})
    assert [p["field"] for p in unknown.json()["problems"]] == ["color"]


async def test_another_workspace_sees_nothing(owner: Account, live: LiveServer) -> None:
    made = await owner.post(URL, {"shortcut": "mine", "text": "a"})
    async with new_client(live.url) as client:
        other = await signup(client)
        assert await shortcuts(other) == []
        assert (await other.delete(f"{URL}/{made.json()['id']}")).status_code == 404
