"""The audit log names what its entries point at, filters by action and operator, and
downloads as CSV."""

from __future__ import annotations

import csv
import io

import httpx

from tests.helpers import add_operator, signup


async def test_entries_carry_the_names_of_operators_and_channels(client: httpx.AsyncClient) -> None:
    owner = await signup(client, name="Olga Owner")
    made = await owner.post("/api/channels", {"kind": "custom", "name": "SMS gateway"})
    entries = (await owner.get("/api/audit")).json()["items"]
    created = next(e for e in entries if e["action"] == "channel_created")
    assert created["actor"] == {"kind": "operator", "id": owner.operator_id, "name": "Olga Owner"}
    assert created["target"] == {"kind": "channel", "id": made.json()["id"], "name": "SMS gateway"}


async def test_a_deleted_channel_is_named_as_such(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    made = (await owner.post("/api/channels", {"kind": "custom", "name": "Old"})).json()
    await owner.delete(f"/api/channels/{made['id']}")
    entries = (await owner.get("/api/audit?action=channel_deleted")).json()["items"]
    assert entries[0]["target"]["name"] == "Old"  # the row stays, disabled, with its name


async def test_the_log_filters_by_action_and_by_operator(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    admin = await add_operator(owner, "admin")
    try:
        await admin.post("/api/channels", {"kind": "custom", "name": "By admin"})
        await owner.post("/api/channels", {"kind": "custom", "name": "By owner"})
        by_admin = (await owner.get(f"/api/audit?actor_id={admin.operator_id}")).json()["items"]
        assert by_admin and {e["actor"]["id"] for e in by_admin} == {admin.operator_id}
        created = (
            await owner.get(f"/api/audit?action=channel_created&actor_id={owner.operator_id}")
        ).json()["items"]
        assert [e["target"]["name"] for e in created] == ["By owner"]
    finally:
        await admin.client.aclose()


async def test_the_log_downloads_as_csv_with_names_and_no_formulas(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, name="Csv Owner")
    await owner.post("/api/channels", {"kind": "custom", "name": "=HYPERLINK(1)"})
    answer = await owner.get("/api/audit.csv?action=channel_created")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["target_name"] for r in rows] == ["'=HYPERLINK(1)"]
    assert rows[0]["actor_name"] == "Csv Owner"
    actions = [e["action"] for e in (await owner.get("/api/audit")).json()["items"]]
    assert "audit_exported" in actions


async def test_agents_may_not_read_or_download_the_log(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    agent = await add_operator(owner, "agent")
    try:
        assert (await agent.get("/api/audit")).status_code == 403
        assert (await agent.get("/api/audit.csv")).status_code == 403
    finally:
        await agent.client.aclose()


async def test_an_invitation_is_named_by_its_role_never_by_the_invitees_email(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    invitee = f"invitee-{owner.operator_id[-8:].lower()}@example.com"
    await owner.post("/api/invites", {"email": invitee, "role": "admin"})
    answer = await owner.get("/api/audit?action=invite_created")
    assert answer.json()["items"][0]["target"]["name"] == "invitation as admin"
    assert invitee not in answer.text
    assert invitee not in (await owner.get("/api/audit.csv")).text
