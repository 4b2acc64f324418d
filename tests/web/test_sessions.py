"""Session expiry and the cookie's attributes."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import select, update
from starlette.responses import Response

from hub.model import utcnow
from storage.db import make_engine
from storage.models import Session
from tests.helpers import signup
from web.auth.sessions import cookie_name, set_session_cookie
from web.config import Settings

if TYPE_CHECKING:
    from conftest import LiveServer


def _settings(public_url: str) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite://",
        redis_url=None,
        secret_key="x" * 40,
        public_url=public_url,
    )


def test_https_cookie_is_secure_with_host_prefix() -> None:
    settings = _settings("https://hub.example")
    response = Response()
    set_session_cookie(response, settings, "value")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-inviaro_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Domain" not in cookie and "Path=/" in cookie


def test_http_cookie_has_no_host_prefix() -> None:
    assert cookie_name(_settings("http://127.0.0.1:8000")) == "inviaro_session"


async def _age_sessions(live: LiveServer, operator_id: str, **values: object) -> None:
    engine = make_engine(live.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Session).where(Session.operator_id == operator_id).values(**values)
            )
    finally:
        await engine.dispose()


async def test_idle_session_is_refused(live: LiveServer, client: httpx.AsyncClient) -> None:
    account = await signup(client)
    idle = timedelta(seconds=live.settings.session_idle_s + 60)
    await _age_sessions(live, account.operator_id, last_seen_at=utcnow() - idle)
    assert (await client.get("/api/me")).status_code == 401


async def test_session_past_absolute_expiry_is_refused(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    account = await signup(client)
    await _age_sessions(live, account.operator_id, expires_at=utcnow() - timedelta(seconds=1))
    assert (await client.get("/api/me")).status_code == 401


async def test_active_session_is_kept_alive(live: LiveServer, client: httpx.AsyncClient) -> None:
    account = await signup(client)
    almost_idle = timedelta(seconds=live.settings.session_idle_s - 60)
    await _age_sessions(live, account.operator_id, last_seen_at=utcnow() - almost_idle)
    assert (await client.get("/api/me")).status_code == 200
    # The request moved last_seen_at forward, so the session has a full idle period again.
    engine = make_engine(live.settings.database_url)
    try:
        async with engine.connect() as conn:
            seen = await conn.scalar(
                select(Session.last_seen_at).where(Session.operator_id == account.operator_id)
            )
    finally:
        await engine.dispose()
    assert seen is not None
    assert seen.replace(tzinfo=None) > (utcnow() - timedelta(minutes=5)).replace(tzinfo=None)
