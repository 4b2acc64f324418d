"""Sign-up, login, sessions, CSRF and API tokens, through the public HTTP surface."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from argon2 import PasswordHasher
from sqlalchemy import select, update

from storage.db import make_engine
from storage.models import ApiToken, Operator
from tests.helpers import (
    PASSWORD,
    api_token,
    auth_headers,
    login,
    login_account,
    new_client,
    random_address,
    signup,
    unique_email,
)

if TYPE_CHECKING:
    from conftest import LiveServer


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error", "detail"} and body["detail"], body
    return str(body["error"])


async def test_signup_creates_workspace_owner_and_session(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/signup",
        json={"workspace": "Acme", "name": "Ada", "email": email, "password": PASSWORD},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["operator"]["email"] == email and body["operator"]["role"] == "owner"
    assert body["workspace"]["name"] == "Acme" and body["csrf_token"]
    me = await client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["operator"]["id"] == body["operator"]["id"]
    assert me.json()["csrf_token"] == body["csrf_token"]


async def test_login_then_me_answers_the_operator(live: LiveServer) -> None:
    email = unique_email()
    async with new_client(live.url) as first:
        await signup(first, email=email)
    async with new_client(live.url) as browser:
        account = await login_account(browser, email)
        me = await browser.get("/api/me")
    assert me.status_code == 200
    assert me.json()["operator"]["email"] == email
    assert me.json()["workspace"]["id"] == account.workspace_id


async def test_session_cookie_is_httponly_and_samesite_lax(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/signup",
        json={"workspace": "W", "name": "N", "email": unique_email(), "password": PASSWORD},
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie


async def test_each_login_issues_a_new_session_and_ends_the_old_one(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    old_cookie = dict(client.cookies)
    again = await login_account(client, account.email)
    assert dict(client.cookies) != old_cookie
    assert again.csrf_token != account.csrf_token
    async with httpx.AsyncClient(base_url=str(client.base_url), cookies=old_cookie) as stale:
        assert (await stale.get("/api/me")).status_code == 401


async def test_second_signup_with_same_email_is_409(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    response = await client.post(
        "/api/signup",
        json={"workspace": "X", "name": "Y", "email": account.email.upper(), "password": PASSWORD},
    )
    assert response.status_code == 409
    assert _error(response) == "email_taken"


async def test_signup_rejects_malformed_email_with_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/signup",
        json={"workspace": "X", "name": "Y", "email": "not-an-email", "password": PASSWORD},
    )
    assert response.status_code == 422
    assert "email" in response.json()["detail"]


async def test_signup_rejects_short_password_with_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/signup",
        json={"workspace": "X", "name": "Y", "email": unique_email(), "password": "short"},
    )
    assert response.status_code == 422
    assert "password" in response.json()["detail"]


async def test_signup_missing_field_is_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/signup", json={"workspace": "X", "name": "Y"})
    assert response.status_code == 422
    assert "email" in response.json()["detail"]


async def test_malformed_json_is_400_with_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert _error(response) == "bad_json"


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/login", content=b"email=a&password=b", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert _error(response) == "unsupported_media_type"


async def test_wrong_password_is_401_invalid_credentials(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    async with new_client(str(client.base_url)) as other:
        response = await other.post(
            "/api/login",
            json={"email": account.email, "password": "wrong password!"},
            headers={"X-Forwarded-For": random_address()},
        )
    assert response.status_code == 401
    assert _error(response) == "invalid_credentials"


async def test_unknown_email_is_401_like_a_wrong_password(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/login",
        json={"email": unique_email(), "password": PASSWORD},
        headers={"X-Forwarded-For": random_address()},
    )
    assert response.status_code == 401
    assert _error(response) == "invalid_credentials"


async def test_me_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/me")
    assert response.status_code == 401
    assert _error(response) == "unauthorized"


async def test_forged_cookie_is_refused(live: LiveServer, client: httpx.AsyncClient) -> None:
    await signup(client)
    name, value = next(iter(client.cookies.items()))
    token, _, signature = value.rpartition(".")
    forged = f"{token}.{'A' * len(signature)}"
    async with httpx.AsyncClient(base_url=live.url, cookies={name: forged}) as attacker:
        assert (await attacker.get("/api/me")).status_code == 401
    async with httpx.AsyncClient(base_url=live.url, cookies={name: "garbage"}) as attacker:
        assert (await attacker.get("/api/me")).status_code == 401


async def test_logout_revokes_the_session_server_side(live: LiveServer) -> None:
    async with new_client(live.url) as browser:
        account = await signup(browser)
        stolen = dict(browser.cookies)
        response = await account.post("/api/logout")
        assert response.status_code == 204
    async with httpx.AsyncClient(base_url=live.url, cookies=stolen) as replay:
        response = await replay.get("/api/me")
    assert response.status_code == 401


async def test_unsafe_request_without_csrf_token_is_403(client: httpx.AsyncClient) -> None:
    await signup(client)
    response = await client.post("/api/tokens", json={"name": "x"})
    assert response.status_code == 403
    assert _error(response) == "csrf"


async def test_unsafe_request_with_wrong_csrf_token_is_403(client: httpx.AsyncClient) -> None:
    await signup(client)
    response = await client.patch(
        "/api/workspace", json={"name": "Hijacked"}, headers={"X-CSRF-Token": "nope"}
    )
    assert response.status_code == 403
    assert (await client.get("/api/workspace")).json()["name"] != "Hijacked"


async def test_logout_without_csrf_token_is_403(client: httpx.AsyncClient) -> None:
    await signup(client)
    assert (await client.post("/api/logout")).status_code == 403
    assert (await client.get("/api/me")).status_code == 200


async def test_bearer_token_works_without_csrf(live: LiveServer, client: httpx.AsyncClient) -> None:
    account = await signup(client)
    token = await api_token(account)
    async with httpx.AsyncClient(base_url=live.url, headers=auth_headers(token)) as integration:
        me = await integration.get("/api/me")
        patched = await integration.patch("/api/workspace", json={"name": "Via token"})
    assert me.status_code == 200 and me.json()["operator"]["id"] == account.operator_id
    assert patched.status_code == 200 and patched.json()["name"] == "Via token"


async def test_a_token_in_use_shows_when_it_was_last_used(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    account = await signup(client)
    token = await api_token(account)
    assert (await account.get("/api/tokens")).json()["items"][0]["last_used_at"] is None
    async with httpx.AsyncClient(base_url=live.url, headers=auth_headers(token)) as integration:
        assert (await integration.get("/api/me")).status_code == 200
    assert (await account.get("/api/tokens")).json()["items"][0]["last_used_at"] is not None


async def test_unknown_bearer_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/me", headers=auth_headers("ivt_not-a-real-token"))
    assert response.status_code == 401


async def test_revoked_token_is_refused(live: LiveServer, client: httpx.AsyncClient) -> None:
    account = await signup(client)
    created = await account.post("/api/tokens", json={"name": "temp"})
    token, token_id = created.json()["token"], created.json()["id"]
    assert (await account.delete(f"/api/tokens/{token_id}")).status_code == 204
    async with httpx.AsyncClient(base_url=live.url, headers=auth_headers(token)) as integration:
        assert (await integration.get("/api/me")).status_code == 401


async def test_token_is_shown_once_and_stored_hashed(live: LiveServer) -> None:
    async with new_client(live.url) as browser:
        account = await signup(browser)
        token = await api_token(account)
        listed = await account.get("/api/tokens")
    assert token not in listed.text
    engine = make_engine(live.settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(ApiToken))).all()
            dump = repr([tuple(row) for row in rows])
    finally:
        await engine.dispose()
    assert account.operator_id in dump and token not in dump


async def test_password_hash_is_argon2id(live: LiveServer, client: httpx.AsyncClient) -> None:
    account = await signup(client)
    engine = make_engine(live.settings.database_url)
    try:
        async with engine.connect() as conn:
            stored = await conn.scalar(
                select(Operator.password_hash).where(Operator.id == account.operator_id)
            )
    finally:
        await engine.dispose()
    assert stored is not None and stored.startswith("$argon2id$")
    params = dict(p.split("=") for p in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024 and int(params["t"]) >= 2 and int(params["p"]) >= 1
    assert PASSWORD not in stored


async def test_password_change_ends_other_sessions(live: LiveServer) -> None:
    async with new_client(live.url) as first, new_client(live.url) as second:
        account = await signup(first)
        await login_account(second, account.email)
        response = await account.post(
            "/api/password",
            json={"current_password": PASSWORD, "new_password": "a brand new password"},
        )
        assert response.status_code == 200
        assert (await second.get("/api/me")).status_code == 401
        assert (await first.get("/api/me")).status_code == 200
        old = await login(second, account.email, PASSWORD)
    assert old.status_code == 401


async def test_home_redirects_signed_out_visitor_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/login"
    page = await client.get("/login")
    assert page.status_code == 200 and 'href="/signup"' in page.text
    assert "<script>" not in page.text


async def test_home_redirects_signed_in_operator_to_inbox(client: httpx.AsyncClient) -> None:
    account = await signup(client, name="Grace Hopper")
    response = await client.get("/")
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/inbox"
    inbox = await client.get("/inbox")
    assert inbox.status_code == 200 and "Grace Hopper" in inbox.text
    assert account.csrf_token in inbox.text


async def test_static_login_script_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/auth.js")
    assert response.status_code == 200
    assert "/api/login" in (await client.get("/login")).text


async def test_login_rehashes_a_password_made_with_weaker_parameters(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    account = await signup(client)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    engine = make_engine(live.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Operator)
                .where(Operator.id == account.operator_id)
                .values(password_hash=weak)
            )
        assert (await login(client, account.email)).status_code == 200
        async with engine.connect() as conn:
            stored = await conn.scalar(
                select(Operator.password_hash).where(Operator.id == account.operator_id)
            )
    finally:
        await engine.dispose()
    assert stored is not None and stored != weak
    assert "m=19456,t=2,p=1" in stored
