"""Channels: per-kind config, the URLs and keys they answer with, and write-only secrets."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from storage.db import make_engine
from storage.models import Channel
from tests.helpers import signup
from web.auth.channels import (
    adapter_config,
    channel_secrets,
    check_ingest_token,
    find_channel_by_public_key,
    seal_secrets,
)

if TYPE_CHECKING:
    from conftest import LiveServer


def _secret() -> str:
    return f"s3cret-{uuid.uuid4().hex}"


def _meta(kind: str, id_field: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": kind,
        "config": {
            id_field: "1234567890",
            "access_token": _secret(),
            "app_secret": _secret(),
            "verify_token": _secret(),
        },
    }


async def test_meta_channels_answer_with_their_webhook_url(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    for kind, id_field in [
        ("whatsapp", "phone_number_id"),
        ("messenger", "page_id"),
        ("instagram", "account_id"),
    ]:
        response = await owner.post("/api/channels", json=_meta(kind, id_field))
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["kind"] == kind
        assert body["webhook_url"] == f"{live.settings.public_url}/webhooks/meta/{body['id']}"
        assert body["config"] == {id_field: "1234567890"}


async def test_viber_channel_answers_with_its_webhook_url(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    response = await owner.post(
        "/api/channels", json={"kind": "viber", "name": "V", "config": {"auth_token": _secret()}}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["webhook_url"] == f"{live.settings.public_url}/webhooks/viber/{body['id']}"


async def test_widget_channel_gets_a_public_key(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    response = await owner.post(
        "/api/channels",
        json={
            "kind": "widget",
            "name": "Site",
            "config": {"allowed_origins": ["https://shop.example"], "color": "#112233"},
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["public_key"] and "webhook_url" not in body
    assert body["config"]["allowed_origins"] == ["https://shop.example"]


async def test_custom_channel_gets_its_ingest_token_once(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    response = await owner.post("/api/channels", json={"kind": "custom", "name": "CRM"})
    assert response.status_code == 201
    token = response.json()["ingest_token"]
    listed = await owner.get("/api/channels")
    single = await owner.get(f"/api/channels/{response.json()['id']}")
    assert token not in listed.text and token not in single.text


async def test_missing_config_field_is_422_naming_it(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    body = _meta("whatsapp", "phone_number_id")
    del body["config"]["app_secret"]
    response = await owner.post("/api/channels", json=body)
    assert response.status_code == 422
    assert "app_secret" in response.json()["detail"]


async def test_unknown_kind_is_422(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    response = await owner.post("/api/channels", json={"kind": "telegraph", "name": "x"})
    assert response.status_code == 422 and "kind" in response.json()["detail"]


async def test_deleted_channel_answers_404(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    channel = (await owner.post("/api/channels", json={"kind": "custom", "name": "x"})).json()
    assert (await owner.delete(f"/api/channels/{channel['id']}")).status_code == 204
    assert (await owner.get(f"/api/channels/{channel['id']}")).status_code == 404
    assert (await owner.delete(f"/api/channels/{channel['id']}")).status_code == 404
    assert channel["id"] not in (await owner.get("/api/channels")).text


async def test_channel_secrets_never_appear_in_any_response(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    bodies = [
        _meta("whatsapp", "phone_number_id"),
        _meta("messenger", "page_id"),
        _meta("instagram", "account_id"),
        {"kind": "viber", "name": "v", "config": {"auth_token": _secret()}},
        {
            "kind": "widget",
            "name": "w",
            "config": {"allowed_origins": ["https://x.example"], "identity_secret": _secret()},
        },
    ]
    secrets = [v for b in bodies for k, v in b["config"].items() if k not in ("allowed_origins",)]
    secrets = [s for s in secrets if s.startswith("s3cret-")]
    texts = []
    ids = []
    for body in bodies:
        response = await owner.post("/api/channels", json=body)
        assert response.status_code == 201
        texts.append(response.text)
        ids.append(response.json()["id"])
    for url in ["/api/channels", "/api/audit", "/api/workspace", "/api/me", "/api/operators"]:
        texts.append((await owner.get(url)).text)
    for channel_id in ids:
        texts.append((await owner.get(f"/api/channels/{channel_id}")).text)
    for text in texts:
        for secret in secrets:
            assert secret not in text
    # At rest they are encrypted, and the helper for the webhook code gets them back.
    engine = make_engine(live.settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(Channel).where(Channel.id.in_(ids)))).all()
    finally:
        await engine.dispose()
    assert not any(secret in repr(tuple(row)) for row in rows for secret in secrets)
    whatsapp = next(Channel(**row._mapping) for row in rows if row.kind == "whatsapp")
    assert channel_secrets(live.settings, whatsapp) == {
        k: v for k, v in bodies[0]["config"].items() if k != "phone_number_id"
    }


async def test_public_key_and_ingest_token_helpers_find_their_channels(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    widget = (
        await owner.post(
            "/api/channels",
            json={"kind": "widget", "name": "w", "config": {"allowed_origins": []}},
        )
    ).json()
    custom = (await owner.post("/api/channels", json={"kind": "custom", "name": "c"})).json()
    services = live.app.state.services  # type: ignore[attr-defined]
    async with services.db() as db:
        found = await find_channel_by_public_key(db, widget["public_key"])
        good = await check_ingest_token(db, custom["id"], custom["ingest_token"])
        bad = await check_ingest_token(db, custom["id"], "ivi_wrong")
    assert found is not None and found.id == widget["id"]
    assert good is not None and good.id == custom["id"]
    assert bad is None


async def test_an_adapter_is_configured_with_the_channel_config_and_its_unsealed_secrets(
    live: LiveServer,
) -> None:
    sealed = seal_secrets(live.settings, {"access_token": "token", "app_secret": "secret"})
    assert adapter_config(live.settings, {"phone_number_id": "123"}, sealed) == {
        "phone_number_id": "123",
        "access_token": "token",
        "app_secret": "secret",
    }


async def test_a_channel_without_secrets_configures_its_adapter_with_its_config_alone(
    live: LiveServer,
) -> None:
    assert adapter_config(live.settings, {"page_id": "1"}, None) == {"page_id": "1"}
