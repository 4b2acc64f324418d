"""TOTP two-factor authentication: setup, a code accepted once, backup codes, mandatory 2FA."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
import pyotp

from tests.helpers import (
    PASSWORD,
    enable_2fa,
    login,
    new_client,
    next_code,
    signup,
)

if TYPE_CHECKING:
    from conftest import LiveServer


async def test_setup_returns_secret_uri_and_backup_codes(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    response = await account.post("/api/2fa/setup")
    assert response.status_code == 200
    body = response.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/") and body["secret"]
    assert len(body["backup_codes"]) == 10


async def test_login_with_2fa_needs_the_code(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    totp, _ = await enable_2fa(account)
    async with new_client(str(client.base_url)) as browser:
        missing = await login(browser, account.email)
        assert missing.status_code == 401 and missing.json()["error"] == "otp_required"
        ok = await login(browser, account.email, otp=next_code(totp))
    assert ok.status_code == 200
    assert ok.json()["operator"]["totp_enabled"] is True


async def test_reused_totp_code_is_refused(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    totp, _ = await enable_2fa(account)
    code = next_code(totp)
    async with new_client(str(client.base_url)) as browser:
        first = await login(browser, account.email, otp=code)
        again = await login(browser, account.email, otp=code)
    assert first.status_code == 200
    assert again.status_code == 401


async def test_code_used_to_enable_cannot_log_in(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    setup = (await account.post("/api/2fa/setup")).json()
    code = pyotp.TOTP(setup["secret"]).now()
    assert (await account.post("/api/2fa/enable", json={"otp": code})).status_code == 204
    async with new_client(str(client.base_url)) as browser:
        response = await login(browser, account.email, otp=code)
    assert response.status_code == 401


async def test_two_parallel_logins_with_one_code_exactly_one_succeeds(live: LiveServer) -> None:
    async with new_client(live.url) as owner_client:
        account = await signup(owner_client)
        totp, _ = await enable_2fa(account)
    code = next_code(totp)
    async with new_client(live.url) as a, new_client(live.url) as b:
        results = await asyncio.gather(
            login(a, account.email, otp=code), login(b, account.email, otp=code)
        )
    assert sorted(r.status_code for r in results) == [200, 401]


async def test_backup_code_works_once(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    _, codes = await enable_2fa(account)
    async with new_client(str(client.base_url)) as browser:
        first = await login(browser, account.email, otp=codes[0])
        again = await login(browser, account.email, otp=codes[0])
    assert first.status_code == 200
    assert again.status_code == 401


async def test_wrong_code_is_refused(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    totp, _ = await enable_2fa(account)
    wrong = f"{(int(next_code(totp)) + 1) % 1_000_000:06d}"
    async with new_client(str(client.base_url)) as browser:
        response = await login(browser, account.email, otp=wrong)
    assert response.status_code == 401


async def test_disable_needs_password_and_a_fresh_code(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    totp, _ = await enable_2fa(account)
    code = next_code(totp)
    bad_password = await account.post(
        "/api/2fa/disable", json={"otp": code, "password": "not the password"}
    )
    assert bad_password.status_code == 422
    ok = await account.post("/api/2fa/disable", json={"otp": code, "password": PASSWORD})
    assert ok.status_code == 204
    me = await client.get("/api/me")
    assert me.json()["operator"]["totp_enabled"] is False


async def test_required_2fa_blocks_other_calls_until_enabled(live: LiveServer) -> None:
    async with new_client(live.url) as owner_client:
        owner = await signup(owner_client)
        await enable_2fa(owner)
        await owner.patch("/api/workspace", json={"require_2fa": True})
        agent_email = (
            await owner.post(
                "/api/operators",
                json={
                    "email": f"agent-{owner.operator_id.lower()}@example.com",
                    "name": "Agent",
                    "password": PASSWORD,
                    "role": "agent",
                },
            )
        ).json()["email"]
    async with new_client(live.url) as agent_client:
        response = await login(agent_client, agent_email)
        assert response.status_code == 200
        csrf = {"X-CSRF-Token": response.json()["csrf_token"]}
        me = await agent_client.get("/api/me")
        assert me.json()["must_enable_2fa"] is True
        assert (await agent_client.get("/api/channels")).status_code == 403
        setup = await agent_client.post("/api/2fa/setup", headers=csrf)
        code = pyotp.TOTP(setup.json()["secret"]).now()
        enabled = await agent_client.post("/api/2fa/enable", json={"otp": code}, headers=csrf)
        assert enabled.status_code == 204
        assert (await agent_client.get("/api/channels")).status_code == 200
