"""Hardening from the security review (issue 13, finding 14), each written as the attack:
HSTS behind an https URL; personal API answers kept out of caches; pages that may open
sockets only to the app's own origin; a database and a secret no other user can read; a
cross-site request riding the session cookie; an admin revoking the owner's tokens.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from storage.db import make_engine
from tests.conftest import LiveServer, make_settings, start_server
from tests.helpers import add_operator, api_token, auth_headers, signup
from web.config import load


@pytest.fixture
async def https_live(db_url: str) -> AsyncIterator[LiveServer]:
    """A server whose public URL is https (as behind a TLS-terminating balancer)."""
    live, server, task = await start_server(
        make_settings(db_url, public_url="https://chat.example")
    )
    yield live
    server.should_exit = True
    await task


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files are born world-readable unless created 0600."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_hsts_is_sent_when_the_public_url_is_https(https_live: LiveServer) -> None:
    async with https_live.client() as client:
        for url in ("/healthz", "/login", "/api/me"):
            response = await client.get(url)
            assert response.headers["strict-transport-security"].startswith("max-age="), url


async def test_hsts_is_not_sent_over_plain_http(client: httpx.AsyncClient) -> None:
    assert "strict-transport-security" not in (await client.get("/login")).headers


async def connect_src(live: LiveServer) -> list[str]:
    async with live.client() as client:
        policy = (await client.get("/login")).headers["content-security-policy"]
    return next(d.split()[1:] for d in policy.split(";") if d.split()[0] == "connect-src")


async def test_the_csp_lets_pages_open_sockets_only_to_the_apps_own_origin(
    live: LiveServer, https_live: LiveServer
) -> None:
    host = live.url.split("://", 1)[1]
    assert await connect_src(live) == ["'self'", f"ws://{host}"]
    assert await connect_src(https_live) == ["'self'", "wss://chat.example"]


async def test_authenticated_api_answers_are_never_stored_by_a_cache(
    client: httpx.AsyncClient, live: LiveServer
) -> None:
    owner = await signup(client)
    token = await api_token(owner)
    by_cookie = await owner.get("/api/me")
    async with live.client() as bare:
        by_token = await bare.get("/api/conversations", headers=auth_headers(token))
    for response in (by_cookie, by_token):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"


async def test_the_sqlite_database_is_created_readable_by_its_owner_only(
    tmp_path: Path, umask_022: None
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'inviaro.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES ('a customer message')"))
            for name in ("inviaro.db", "inviaro.db-wal", "inviaro.db-shm"):
                assert mode(tmp_path / name) == 0o600, name
    finally:
        await engine.dispose()


_watched: dict[str, Any] = {"hooked": False}


def _watch_modes(event: str, args: tuple[Any, ...]) -> None:
    """An audit hook: at every audited operation (open, chmod, ...) while a test watches a
    path, note that path's mode if it exists. Hooks cannot be removed; this one idles."""
    path = _watched.get("path")
    if path is not None and not _watched.get("busy"):
        _watched["busy"] = True  # stat itself may be audited
        try:
            if os.path.exists(path):
                _watched["modes"].add(stat.S_IMODE(os.stat(path).st_mode))
        finally:
            _watched["busy"] = False


def test_the_generated_secret_is_never_readable_by_others_not_even_briefly(
    tmp_path: Path, umask_022: None
) -> None:
    if not _watched["hooked"]:
        sys.addaudithook(_watch_modes)
        _watched["hooked"] = True
    secret = tmp_path / "inviaro.secret"
    _watched.update(path=str(secret), modes=set())
    try:
        settings = load({"DATABASE_URL": f"sqlite:///{tmp_path / 'inviaro.db'}"})
    finally:
        seen = _watched.pop("modes")
        _watched.pop("path")
    assert secret.read_text().strip() == settings.secret_key
    assert seen == {0o600}


CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "cross-site"},
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=lambda h: ",".join(h.values()))
async def test_a_cross_site_request_with_the_session_cookie_is_403_even_with_the_csrf_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    owner = await signup(client)
    response = await owner.client.post(
        "/api/tokens", json={"name": "stolen"}, headers={**owner.csrf, **headers}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf" and response.json()["detail"]
    assert (await owner.get("/api/tokens")).json()["items"] == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, "own-origin"],
    ids=["neither-header", "same-origin", "typed", "own-origin"],
)
async def test_a_same_site_or_headerless_request_with_cookie_and_csrf_token_works(
    client: httpx.AsyncClient, live: LiveServer, headers: Any
) -> None:
    owner = await signup(client)
    if headers == "own-origin":
        headers = {"Origin": live.url, "Sec-Fetch-Site": "same-origin"}
    response = await owner.client.post(
        "/api/tokens", json={"name": "mine"}, headers={**owner.csrf, **headers}
    )
    assert response.status_code == 201, response.text


async def test_an_admin_may_not_revoke_the_owners_tokens(
    client: httpx.AsyncClient, live: LiveServer
) -> None:
    owner = await signup(client)
    token = await api_token(owner)
    token_id = (await owner.get("/api/tokens")).json()["items"][0]["id"]
    admin = await add_operator(owner, "admin")
    agent = await add_operator(owner, "agent")
    try:
        response = await admin.delete(f"/api/tokens/{token_id}")
        assert response.status_code == 403
        assert response.json()["detail"] == "Only an owner may revoke an owner's tokens."
        async with live.client() as bare:
            assert (await bare.get("/api/me", headers=auth_headers(token))).status_code == 200
        agent_token = await api_token(agent)
        agent_token_id = (await agent.get("/api/tokens")).json()["items"][0]["id"]
        assert (await admin.delete(f"/api/tokens/{agent_token_id}")).status_code == 204
        async with live.client() as bare:
            refused = await bare.get("/api/me", headers=auth_headers(agent_token))
            assert refused.status_code == 401
        assert (await owner.delete(f"/api/tokens/{token_id}")).status_code == 204
    finally:
        await admin.client.aclose()
        await agent.client.aclose()
