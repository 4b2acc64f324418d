"""Invitations: mailed through a real SMTP server, accepted once, within their time."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from hub.model import utcnow
from storage.db import make_engine
from storage.models import AccountLink
from tests.conftest import LiveServer, unique_email
from tests.helpers import PASSWORD, add_operator, new_client, signup
from tests.smtp_sink import SmtpInbox, link_in


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


async def test_an_invite_is_mailed_and_accepting_it_signs_the_invitee_in_with_the_role(
    mail_live: LiveServer, smtp_inbox: SmtpInbox
) -> None:
    async with new_client(mail_live.url) as c, new_client(mail_live.url) as guest:
        owner = await signup(c, workspace="Invite Co")
        invitee = unique_email()
        made = await owner.post("/api/invites", json={"email": invitee, "role": "admin"})
        assert made.status_code == 201, made.text
        assert made.json()["mailed"] is True
        assert made.json()["role"] == "admin"
        mail = await smtp_inbox.wait_for(invitee)
        assert "Invite Co" in mail["Subject"]
        url = link_in(mail, "/invite/")
        assert url == made.json()["url"]
        assert url.startswith(mail_live.settings.public_url)
        page = await guest.get(url)
        assert page.status_code == 200 and "Join Invite Co" in page.text
        accepted = await guest.post(
            "/api/invites/accept",
            json={"token": token_of(url), "name": "Ivy Invited", "password": PASSWORD},
        )
        assert accepted.status_code == 201, accepted.text
        me = (await guest.get("/api/me")).json()
        assert me["operator"]["email"] == invitee
        assert me["operator"]["role"] == "admin"
        assert me["workspace"]["id"] == owner.workspace_id
        actions = [e["action"] for e in (await owner.get("/api/audit")).json()["items"]]
        assert "invite_created" in actions and "invite_accepted" in actions


async def test_an_invite_link_works_once_and_then_shows_a_clear_page(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    made = await owner.post("/api/invites", json={"email": unique_email()})
    token = token_of(made.json()["url"])
    body = {"token": token, "name": "Once", "password": PASSWORD}
    async with new_client(live.url) as first, new_client(live.url) as second:
        assert (await first.post("/api/invites/accept", json=body)).status_code == 201
        again = await second.post("/api/invites/accept", json=body)
        assert again.status_code == 410
        assert again.json()["error"] == "link_unusable"
        page = await second.get(made.json()["url"])
    assert page.status_code == 410
    assert "text/html" in page.headers["content-type"]
    assert "already used" in page.text


async def test_an_expired_invite_link_shows_a_clear_page(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    made = await owner.post("/api/invites", json={"email": unique_email()})
    engine = make_engine(live.settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            update(AccountLink)
            .where(AccountLink.id == made.json()["id"])
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    await engine.dispose()
    page = await client.get(made.json()["url"])
    assert page.status_code == 410 and "expired" in page.text
    token = token_of(made.json()["url"])
    refused = await client.post(
        "/api/invites/accept", json={"token": token, "name": "Late", "password": PASSWORD}
    )
    assert refused.status_code == 410


async def test_without_mail_the_invite_answers_its_link_to_copy(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    made = await owner.post("/api/invites", json={"email": unique_email(), "role": "agent"})
    assert made.status_code == 201
    assert made.json()["mailed"] is False
    assert "/invite/" in made.json()["url"]
    pending = (await owner.get("/api/invites")).json()["items"]
    assert made.json()["id"] in [i["id"] for i in pending]
    assert all("url" not in i or i["url"] is None for i in pending)


async def test_a_withdrawn_invite_no_longer_works(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    made = (await owner.post("/api/invites", json={"email": unique_email()})).json()
    assert (await owner.delete(f"/api/invites/{made['id']}")).status_code == 204
    page = await client.get(made["url"])
    assert page.status_code == 410


async def test_an_agent_may_not_invite_and_an_admin_may_not_invite_an_owner(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    agent = await add_operator(owner, "agent")
    admin = await add_operator(owner, "admin")
    try:
        refused = await agent.post("/api/invites", json={"email": unique_email()})
        assert refused.status_code == 403
        refused = await admin.post("/api/invites", json={"email": unique_email(), "role": "owner"})
        assert refused.status_code == 403
    finally:
        await agent.client.aclose()
        await admin.client.aclose()


async def test_an_invite_for_an_existing_operator_is_refused(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    taken = await owner.post("/api/invites", json={"email": owner.email})
    assert taken.status_code == 409


async def test_bad_invite_bodies_answer_422_naming_each_field(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    bad = await owner.post("/api/invites", json={"email": 5, "role": "boss"})
    assert bad.status_code == 422
    fields = {p["field"] for p in bad.json()["problems"]}
    assert fields == {"email", "role"}
    bad = await client.post("/api/invites/accept", json={"token": "x", "name": "", "password": "s"})
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["problems"]} == {"name", "password"}
    unknown = await client.post(
        "/api/invites/accept", json={"token": "nope", "name": "N", "password": PASSWORD}
    )
    assert unknown.status_code == 410


async def test_another_site_cannot_make_a_browser_accept_an_invite(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    made = await owner.post("/api/invites", json={"email": unique_email()})
    body = {"token": token_of(made.json()["url"]), "name": "Csrf", "password": PASSWORD}
    refused = await client.post(
        "/api/invites/accept", json=body, headers={"Origin": "https://evil.example"}
    )
    assert (refused.status_code, refused.json()["error"]) == (403, "csrf")
    page = await client.get(made.json()["url"])
    assert page.status_code == 200  # the link is still unused
