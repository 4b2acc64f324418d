"""Password reset: the same answer for every address, a mailed single-use link, the
second factor when enabled, and every session and API token of the operator ended."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import httpx
from sqlalchemy import update

from hub.model import utcnow
from storage.db import make_engine
from storage.models import AccountLink
from tests.conftest import SECRET, LiveServer, unique_email
from tests.helpers import (
    PASSWORD,
    add_operator,
    api_token,
    auth_headers,
    enable_2fa,
    login,
    login_account,
    new_client,
    next_code,
    random_address,
    signup,
)
from tests.smtp_sink import SmtpInbox, link_in
from tests.web.test_gone import close_code, token_socket

NEW_PASSWORD = "a brand new passphrase"


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


async def forgot(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(
        "/api/password-reset", json={"email": email}, headers={"X-Forwarded-For": random_address()}
    )


async def test_forgot_password_answers_the_same_for_unknown_and_known_addresses(
    mail_live: LiveServer, smtp_inbox: SmtpInbox
) -> None:
    async with new_client(mail_live.url) as c:
        owner = await signup(c)
        stranger = unique_email()
        unknown = await forgot(c, stranger)
        known = await forgot(c, owner.email)
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
        assert known.status_code == 202
        await smtp_inbox.wait_for(owner.email)
        assert smtp_inbox.to(stranger) == []


async def test_a_mailed_reset_link_sets_the_password_once_and_ends_other_sessions(
    mail_live: LiveServer, smtp_inbox: SmtpInbox
) -> None:
    async with new_client(mail_live.url) as c, new_client(mail_live.url) as browser:
        owner = await signup(c)
        await forgot(browser, owner.email)
        url = link_in(await smtp_inbox.wait_for(owner.email), "/reset/")
        page = await browser.get(url)
        assert page.status_code == 200 and "Set a new password" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        body = {"token": token_of(url), "password": NEW_PASSWORD}
        done = await browser.post("/api/password-reset/confirm", json=body)
        assert done.status_code == 204, done.text
        assert (await c.get("/api/me")).status_code == 401  # the old session ended
        assert (await login(browser, owner.email, PASSWORD)).status_code == 401
        assert (await login(browser, owner.email, NEW_PASSWORD)).status_code == 200
        again = await browser.post("/api/password-reset/confirm", json=body)
        assert again.status_code == 410
        assert (await browser.get(url)).status_code == 410
        actions = [e["action"] for e in (await browser.get("/api/audit")).json()["items"]]
        assert "password_reset_requested" in actions and "password_reset" in actions


async def test_a_reset_asks_for_the_second_factor_when_it_is_on(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    totp, backup_codes = await enable_2fa(owner)
    owner = await login_account(client, owner.email, otp=next_code(totp))
    link = await owner.post(f"/api/operators/{owner.operator_id}/reset-link")
    assert link.status_code == 201
    token = token_of(link.json()["url"])
    async with new_client(live.url) as browser:
        page = await browser.get(link.json()["url"])
        assert 'name="otp"' in page.text
        body = {"token": token, "password": NEW_PASSWORD}
        missing = await browser.post("/api/password-reset/confirm", json=body)
        assert (missing.status_code, missing.json()["error"]) == (422, "otp_required")
        wrong = await browser.post("/api/password-reset/confirm", json={**body, "otp": "000000"})
        assert (wrong.status_code, wrong.json()["error"]) == (422, "invalid_otp")
        right = await browser.post(
            "/api/password-reset/confirm", json={**body, "otp": backup_codes[0]}
        )
        assert right.status_code == 204, right.text


async def test_an_admin_copies_a_reset_link_but_an_agent_may_not(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    agent = await add_operator(owner, "agent")
    try:
        refused = await agent.post(f"/api/operators/{owner.operator_id}/reset-link")
        assert refused.status_code == 403
        made = await owner.post(f"/api/operators/{agent.operator_id}/reset-link")
        assert made.status_code == 201
        assert made.json()["url"].startswith(live.settings.public_url + "/reset/")
    finally:
        await agent.client.aclose()


async def test_forgot_password_is_rate_limited_per_address(mail_live: LiveServer) -> None:
    async with new_client(mail_live.url) as c:
        email = unique_email()
        limit = mail_live.settings.limit_password_reset.count
        answers = [
            (await c.post("/api/password-reset", json={"email": email})).status_code
            for _ in range(limit + 1)
        ]
    assert answers[:limit] == [202] * limit
    assert answers[-1] == 429


async def test_a_malformed_email_is_422_and_a_bad_token_a_clear_page(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.post("/api/password-reset", json={"email": "not an address"})
    assert bad.status_code == 422
    page = await client.get("/reset/not-a-real-token")
    assert page.status_code == 410 and "not valid" in page.text


async def test_the_cli_prints_invite_and_reset_links(live: LiveServer, email: str) -> None:
    async with new_client(live.url) as c:
        owner = await signup(c)
    env = {
        **os.environ,
        "DATABASE_URL": live.settings.database_url,
        "INVIARO_SECRET_KEY": SECRET,
        "INVIARO_PUBLIC_URL": live.settings.public_url,
    }
    env.pop("REDIS_URL", None)
    invite = subprocess.run(
        [sys.executable, "-m", "web.cli", "invite", email, "--workspace", owner.workspace_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert invite.returncode == 0, invite.stderr
    assert invite.stdout.strip().startswith(live.settings.public_url + "/invite/")
    async with new_client(live.url) as guest:
        page = await guest.get(invite.stdout.strip())
        assert page.status_code == 200
    reset = subprocess.run(
        [sys.executable, "-m", "web.cli", "reset-link", owner.email],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert reset.returncode == 0, reset.stderr
    assert "/reset/" in reset.stdout


async def test_guessing_links_is_rate_limited_per_address(mail_live: LiveServer) -> None:
    limit = mail_live.settings.limit_account_links.count
    async with new_client(mail_live.url) as c:
        answers = [(await c.get(f"/reset/guess-{n}")).status_code for n in range(limit + 1)]
    assert answers[:limit] == [410] * limit
    assert answers[-1] == 429


async def test_a_reset_revokes_the_operators_api_tokens_and_closes_their_sockets(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    token = await api_token(owner)
    sock = await token_socket(live.ws_url, token)
    link = (await owner.post(f"/api/operators/{owner.operator_id}/reset-link")).json()["url"]
    async with new_client(live.url) as browser:
        body = {"token": token_of(link), "password": NEW_PASSWORD}
        done = await browser.post("/api/password-reset/confirm", json=body)
        assert done.status_code == 204, done.text
        assert (await browser.get("/api/me", headers=auth_headers(token))).status_code == 401
    assert await close_code(sock) == 1008
    assert (await client.get("/api/me")).status_code == 401  # the resetting session ended too


async def test_an_expired_reset_link_shows_a_clear_page_and_sets_nothing(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    url = (await owner.post(f"/api/operators/{owner.operator_id}/reset-link")).json()["url"]
    engine = make_engine(live.settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            update(AccountLink)
            .where(AccountLink.operator_id == owner.operator_id, AccountLink.purpose == "reset")
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    await engine.dispose()
    async with new_client(live.url) as browser:
        page = await browser.get(url)
        assert page.status_code == 410 and "text/html" in page.headers["content-type"]
        assert "expired" in page.text and "Ask for a new link" in page.text
        body = {"token": token_of(url), "password": NEW_PASSWORD}
        refused = await browser.post("/api/password-reset/confirm", json=body)
        assert (refused.status_code, refused.json()["error"]) == (410, "link_unusable")
        assert (await login(browser, owner.email, PASSWORD)).status_code == 200
