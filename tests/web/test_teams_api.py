"""Teams over HTTP: named groups of the workspace's own operators."""

from __future__ import annotations

import httpx

from tests.helpers import add_operator, signup


async def test_a_team_is_created_with_members_and_reads_back(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    agent = await add_operator(owner, "agent", str(client.base_url))
    created = await owner.post("/api/teams", {"name": "Sales", "operator_ids": [agent.operator_id]})
    assert created.status_code == 201
    team = created.json()
    assert team["name"] == "Sales" and team["operator_ids"] == [agent.operator_id]
    assert (await owner.get(f"/api/teams/{team['id']}")).json() == team
    assert [t["id"] for t in (await agent.get("/api/teams")).json()["items"]] == [team["id"]]
    await agent.client.aclose()


async def test_patch_renames_and_replaces_members(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    team = (await owner.post("/api/teams", {"name": "Sales", "operator_ids": []})).json()
    patched = await owner.patch(
        f"/api/teams/{team['id']}", {"name": "Support", "operator_ids": [owner.operator_id]}
    )
    assert patched.json()["name"] == "Support"
    assert patched.json()["operator_ids"] == [owner.operator_id]


async def test_another_workspaces_operator_cannot_join(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other_client:
        other = await signup(other_client)
    response = await owner.post(
        "/api/teams", {"name": "Sales", "operator_ids": [other.operator_id]}
    )
    assert response.status_code == 422 and other.operator_id in response.json()["detail"]


async def test_another_workspaces_team_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    team = (await owner.post("/api/teams", {"name": "Sales"})).json()
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other_client:
        other = await signup(other_client)
        assert (await other.get(f"/api/teams/{team['id']}")).status_code == 404
        assert (await other.delete(f"/api/teams/{team['id']}")).status_code == 404


async def test_agents_may_not_edit_teams(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    agent = await add_operator(owner, "agent", str(client.base_url))
    assert (await agent.post("/api/teams", {"name": "Mine"})).status_code == 403
    await agent.client.aclose()


async def test_a_deleted_team_is_gone(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    team = (await owner.post("/api/teams", {"name": "Sales"})).json()
    assert (await owner.delete(f"/api/teams/{team['id']}")).status_code == 204
    assert (await owner.get(f"/api/teams/{team['id']}")).status_code == 404


async def test_bad_team_bodies_are_422(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    for body in ({"name": ""}, {"name": "x", "operator_ids": "all"}, {"name": "x" * 201}):
        response = await owner.post("/api/teams", body)
        assert response.status_code == 422 and response.json()["detail"]
