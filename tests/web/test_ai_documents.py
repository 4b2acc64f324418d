"""The documents ai_reply answers from (issue 18): kept per workspace, edited by owners and
admins, read by everyone in the workspace and by no one else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, new_client, signup
from tests.web.test_ai import ai_live, fake, fresh_fake  # noqa: F401 (fixtures)

HANDBOOK = {"title": "Prices", "text": "A haircut costs 30 euros.\n\nColouring costs 60 euros."}


@pytest.fixture
async def owner(ai_live: LiveServer) -> AsyncIterator[Account]:  # noqa: F811
    async with new_client(ai_live.url) as client:
        yield await signup(client)


async def add(owner: Account, body: dict[str, str] = HANDBOOK) -> dict[str, str]:
    response = await owner.post("/api/ai/documents", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_an_owner_adds_a_document_and_reads_it_back(owner: Account) -> None:
    doc = await add(owner)
    got = (await owner.get(f"/api/ai/documents/{doc['id']}")).json()
    assert (got["title"], got["text"]) == (HANDBOOK["title"], HANDBOOK["text"])
    listed = (await owner.get("/api/ai/documents")).json()["items"]
    assert [(d["id"], d["chars"]) for d in listed] == [(doc["id"], len(HANDBOOK["text"]))]
    assert "text" not in listed[0]


async def test_a_document_is_edited_and_deleted(owner: Account) -> None:
    doc = await add(owner)
    edited = await owner.patch(f"/api/ai/documents/{doc['id']}", {"text": "Haircut: 35 euros."})
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Prices" and edited.json()["text"] == "Haircut: 35 euros."
    assert (await owner.delete(f"/api/ai/documents/{doc['id']}")).status_code == 204
    assert (await owner.get(f"/api/ai/documents/{doc['id']}")).status_code == 404


async def test_every_problem_of_a_document_body_is_a_422(owner: Account) -> None:
    response = await owner.post("/api/ai/documents", {"title": "", "text": 5, "colour": "x"})
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["problems"]}
    assert fields == {"title", "text", "colour"}


async def test_changes_to_documents_are_audited(owner: Account) -> None:
    doc = await add(owner)
    await owner.delete(f"/api/ai/documents/{doc['id']}")
    entries = (await owner.get("/api/audit")).json()["items"]
    actions = [e["action"] for e in entries if e["target"]["id"] == doc["id"]]
    assert sorted(actions) == ["ai_document_created", "ai_document_deleted"]


async def test_an_agent_reads_documents_but_may_not_change_them(
    owner: Account,
    ai_live: LiveServer,  # noqa: F811
) -> None:
    doc = await add(owner)
    agent = await add_operator(owner, "agent", ai_live.url)
    try:
        read = await agent.get(f"/api/ai/documents/{doc['id']}")
        added = await agent.post("/api/ai/documents", HANDBOOK)
        edited = await agent.patch(f"/api/ai/documents/{doc['id']}", {"title": "x"})
        deleted = await agent.delete(f"/api/ai/documents/{doc['id']}")
    finally:
        await agent.client.aclose()
    assert read.status_code == 200
    assert [r.status_code for r in (added, edited, deleted)] == [403, 403, 403]


async def test_another_workspace_cannot_see_a_document(
    owner: Account,
    ai_live: LiveServer,  # noqa: F811
) -> None:
    doc = await add(owner)
    async with new_client(ai_live.url) as client:
        stranger = await signup(client)
        assert (await stranger.get(f"/api/ai/documents/{doc['id']}")).status_code == 404
        assert (await stranger.delete(f"/api/ai/documents/{doc['id']}")).status_code == 404
        assert (await stranger.get("/api/ai/documents")).json()["items"] == []
