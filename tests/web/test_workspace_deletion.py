"""A deleted workspace vanishes at once, stays recoverable, and is purged after the period."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from hub.model import utcnow
from storage import models as m
from storage.db import make_engine, sessionmaker
from storage.retention import run_purge
from tests.conftest import LiveServer
from tests.helpers import (
    PASSWORD,
    add_operator,
    api_token,
    auth_headers,
    login,
    new_client,
    signup,
)
from web.api.workspace_lifecycle import restore_workspace


async def test_deleting_needs_the_owners_password(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    response = await owner.client.request(
        "DELETE", "/api/workspace", json={"password": "wrong"}, headers=owner.csrf
    )
    assert response.status_code == 403
    assert (await owner.get("/api/me")).status_code == 200


async def test_a_deleted_workspace_ends_sessions_and_refuses_logins(live: LiveServer) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        response = await client.request(
            "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
        )
        assert response.status_code == 204
        assert (await client.get("/api/me")).status_code == 401
        refused = await login(client, owner.email)
        assert (refused.status_code, refused.json()["error"]) == (403, "workspace_deleted")
        assert "restorable_until" in refused.json()


async def test_a_deleted_workspace_can_be_restored_then_is_purged_after_90_days(
    live: LiveServer,
) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        await client.request(
            "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
        )
    engine = make_engine(live.settings.database_url)
    try:
        async with sessionmaker(engine)() as db, db.begin():
            assert await restore_workspace(db, owner.workspace_id, 90) == "Acme"
        async with new_client(live.url) as client:
            assert (await login(client, owner.email)).status_code == 200
            again = await signup(client)  # a second workspace, deleted and left to expire
            await client.request(
                "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=again.csrf
            )
        await run_purge(live.settings.database_url, as_of=utcnow() + timedelta(days=91))
        async with sessionmaker(engine)() as db:
            assert await db.get(m.Workspace, again.workspace_id) is None
            assert await db.get(m.Workspace, owner.workspace_id) is not None
    finally:
        await engine.dispose()


async def test_the_confirmation_password_is_compared_untrimmed(client: httpx.AsyncClient) -> None:
    owner = await signup(client, password=" spaces around my password ")
    response = await owner.client.request(
        "DELETE", "/api/workspace", json={"password": owner.password}, headers=owner.csrf
    )
    assert response.status_code == 204, response.text


async def test_a_deletion_by_api_token_is_audited_as_the_token(live: LiveServer) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        token = await api_token(owner)
        response = await client.request(
            "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=auth_headers(token)
        )
        assert response.status_code == 204, response.text
    engine = make_engine(live.settings.database_url)
    try:
        async with sessionmaker(engine)() as db:
            kinds = await db.scalars(
                select(m.AuditEntry.actor_kind).where(
                    m.AuditEntry.workspace_id == owner.workspace_id,
                    m.AuditEntry.action == "workspace_deleted",
                )
            )
            assert list(kinds) == ["token"]
    finally:
        await engine.dispose()


async def test_the_owner_restores_a_deleted_workspace_by_signing_in(live: LiveServer) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        agent = await add_operator(owner, "agent")
        await agent.client.aclose()
        await client.request(
            "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
        )
        refused = await client.post(
            "/api/login",
            json={"email": agent.email, "password": PASSWORD, "restore_workspace": True},
        )
        assert refused.status_code == 401  # only the owner may bring it back
        wrong = await client.post(
            "/api/login",
            json={"email": owner.email, "password": "wrong password", "restore_workspace": True},
        )
        assert wrong.status_code == 401
        restored = await client.post(
            "/api/login",
            json={"email": owner.email, "password": PASSWORD, "restore_workspace": True},
        )
        assert restored.status_code == 200, restored.text
        assert (await client.get("/api/me")).status_code == 200
        entries = (await client.get("/api/audit")).json()["items"]
        restore = next(e for e in entries if e["action"] == "workspace_restored")
        assert (restore["actor"]["kind"], restore["actor"]["id"]) == ("operator", owner.operator_id)
    async with new_client(live.url) as colleague:
        assert (await login(colleague, agent.email)).status_code == 200


async def test_past_the_recovery_period_the_owner_cannot_restore(live: LiveServer) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        await client.request(
            "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
        )
    engine = make_engine(live.settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            update(m.Workspace)
            .where(m.Workspace.id == owner.workspace_id)
            .values(deleted_at=utcnow() - timedelta(days=91))
        )
    await engine.dispose()
    async with new_client(live.url) as client:
        late = await client.post(
            "/api/login",
            json={"email": owner.email, "password": PASSWORD, "restore_workspace": True},
        )
        assert late.status_code == 401
