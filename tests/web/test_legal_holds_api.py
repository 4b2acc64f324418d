"""Owners place, list and lift legal holds over their workspace's logs, audited."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import Account, add_operator, signup

HOLD = {"from": "2026-02-13T00:00:00.000Z", "to": "2026-02-14T00:00:00.000Z", "reason": "ticket 42"}


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Account:
    return await signup(client)


async def test_an_owner_places_lists_and_lifts_a_hold(owner: Account) -> None:
    placed = await owner.post("/api/legal-holds", json=HOLD)
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert (hold["from"], hold["to"], hold["reason"]) == (HOLD["from"], HOLD["to"], HOLD["reason"])
    assert hold["created_by"] == owner.operator_id and hold["lifted_at"] is None
    listed = (await owner.get("/api/legal-holds")).json()["items"]
    assert [h["id"] for h in listed] == [hold["id"]]
    assert (await owner.delete(f"/api/legal-holds/{hold['id']}")).status_code == 204
    [lifted] = (await owner.get("/api/legal-holds")).json()["items"]
    assert lifted["lifted_at"] and lifted["lifted_by"] == owner.operator_id
    assert (await owner.delete(f"/api/legal-holds/{hold['id']}")).status_code == 404


async def test_placing_and_lifting_are_audited(owner: Account) -> None:
    hold = (await owner.post("/api/legal-holds", json=HOLD)).json()
    await owner.delete(f"/api/legal-holds/{hold['id']}")
    entries = (await owner.get("/api/audit")).json()["items"]
    mine = [e["action"] for e in entries if e["target"]["id"] == hold["id"]]
    assert mine == ["legal_hold_lifted", "legal_hold_placed"]


@pytest.mark.parametrize("role", ["admin", "agent"])
async def test_only_owners_manage_holds(owner: Account, role: str) -> None:
    other = await add_operator(owner, role)
    try:
        assert (await other.post("/api/legal-holds", json=HOLD)).status_code == 403
        assert (await other.get("/api/legal-holds")).status_code == 403
    finally:
        await other.client.aclose()


@pytest.mark.parametrize(
    "body",
    [
        {**HOLD, "to": "2026-02-12T00:00:00Z"},
        {**HOLD, "from": "not a time"},
        {**HOLD, "reason": ""},
        {"from": HOLD["from"]},
    ],
)
async def test_a_malformed_hold_is_refused_with_422(owner: Account, body: dict[str, str]) -> None:
    response = await owner.post("/api/legal-holds", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid" and response.json()["detail"]


async def test_another_workspaces_hold_answers_404(
    owner: Account, client: httpx.AsyncClient
) -> None:
    hold = (await owner.post("/api/legal-holds", json=HOLD)).json()
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other_client:
        other = await signup(other_client)
        assert (await other.delete(f"/api/legal-holds/{hold['id']}")).status_code == 404
        assert (await other.get("/api/legal-holds")).json()["items"] == []
