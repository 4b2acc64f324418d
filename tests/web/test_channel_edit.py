"""Editing a channel in place: the webhook URL and widget key never change, rotated
secrets take effect at once, and Viber hears about a new token (or says why not)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import LiveServer, make_settings, start_server
from tests.fake_viber import FakeViber
from tests.helpers import add_operator, new_client, signup


def secret() -> str:
    return uuid.uuid4().hex


async def test_a_widget_is_renamed_and_restyled_and_keeps_its_key_and_id(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    made = await owner.post(
        "/api/channels",
        json={
            "kind": "widget",
            "name": "Site",
            "config": {"allowed_origins": ["https://a.example"]},
        },
    )
    channel = made.json()
    edited = await owner.patch(
        f"/api/channels/{channel['id']}",
        json={
            "name": "Shop chat",
            "config": {
                "allowed_origins": ["https://b.example"],
                "title": "Hi!",
                "color": "#112233",
            },
        },
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["id"], body["public_key"]) == (channel["id"], channel["public_key"])
    assert body["name"] == "Shop chat"
    assert body["config"] == {
        "allowed_origins": ["https://b.example"],
        "title": "Hi!",
        "color": "#112233",
    }
    key = channel["public_key"]
    old = await client.post(
        "/api/widget/sessions", json={"key": key}, headers={"Origin": "https://a.example"}
    )
    new = await client.post(
        "/api/widget/sessions", json={"key": key}, headers={"Origin": "https://b.example"}
    )
    assert (old.status_code, new.status_code) == (403, 201)
    actions = [e["action"] for e in (await owner.get("/api/audit")).json()["items"]]
    assert "channel_updated" in actions


async def test_an_optional_setting_is_cleared_with_null(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    config = {"allowed_origins": ["https://a.example"], "title": "Old title"}
    channel = (await owner.post("/api/channels", json={"kind": "widget", "config": config})).json()
    edited = await owner.patch(f"/api/channels/{channel['id']}", json={"config": {"title": None}})
    assert "title" not in edited.json()["config"]


async def test_a_rotated_verify_token_works_at_once_and_the_webhook_url_stays(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    old_token, new_token = secret(), secret()
    config = {
        "phone_number_id": "1",
        "access_token": secret(),
        "app_secret": secret(),
        "verify_token": old_token,
    }
    channel = (
        await owner.post("/api/channels", json={"kind": "whatsapp", "config": config})
    ).json()
    edited = await owner.patch(
        f"/api/channels/{channel['id']}", json={"config": {"verify_token": new_token}}
    )
    assert edited.status_code == 200
    assert edited.json()["webhook_url"] == channel["webhook_url"]
    assert new_token not in edited.text
    path = f"/webhooks/meta/{channel['id']}"
    query = {"hub.mode": "subscribe", "hub.challenge": "42"}
    assert (
        await client.get(path, params={**query, "hub.verify_token": old_token})
    ).status_code == 403
    ok = await client.get(path, params={**query, "hub.verify_token": new_token})
    assert (ok.status_code, ok.text) == (200, "42")
    actions = [e["action"] for e in (await owner.get("/api/audit")).json()["items"]]
    assert "channel_secrets_rotated" in actions


async def test_a_rotated_ingest_token_replaces_the_old_one(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    made = (await owner.post("/api/channels", json={"kind": "custom"})).json()
    edited = await owner.patch(f"/api/channels/{made['id']}", json={"rotate_ingest_token": True})
    new_token = edited.json()["ingest_token"]
    message = {
        "messages": [{"external_id": secret(), "contact": {"external_id": "c1"}, "text": "hi"}]
    }
    url = f"/api/ingest/{made['id']}"
    old = await client.post(
        url, json=message, headers={"Authorization": f"Bearer {made['ingest_token']}"}
    )
    new = await client.post(url, json=message, headers={"Authorization": f"Bearer {new_token}"})
    assert (old.status_code, new.status_code) == (401, 202)


async def test_bad_edits_are_refused_with_a_sentence(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner = await signup(client)
    channel = (
        await owner.post(
            "/api/channels", json={"kind": "widget", "config": {"allowed_origins": []}}
        )
    ).json()
    url = f"/api/channels/{channel['id']}"
    unknown = await owner.patch(url, json={"config": {"access_token": "x"}})
    assert unknown.status_code == 422 and "access_token" in unknown.json()["detail"]
    bad_colour = await owner.patch(url, json={"config": {"color": "red; x"}})
    assert bad_colour.status_code == 422
    not_custom = await owner.patch(url, json={"rotate_ingest_token": True})
    assert not_custom.status_code == 422
    assert (await owner.patch(url, json={"name": ""})).status_code == 422
    agent = await add_operator(owner, "agent")
    try:
        assert (await agent.patch(url, json={"name": "Mine"})).status_code == 403
    finally:
        await agent.client.aclose()
    other = await signup(new_client(live.url))
    try:
        assert (await other.patch(url, json={"name": "Theirs"})).status_code == 404
    finally:
        await other.client.aclose()


@pytest.fixture
async def viber_live(db_url: str) -> AsyncIterator[tuple[LiveServer, FakeViber]]:
    fake = FakeViber()
    async with fake.serving():
        live, server, task = await start_server(
            make_settings(db_url, provider_origins=fake.origins)
        )
        yield live, fake
        server.should_exit = True
        await task


async def test_a_new_viber_token_is_registered_with_viber_or_says_why_not(
    viber_live: tuple[LiveServer, FakeViber],
) -> None:
    live, viber = viber_live
    async with new_client(live.url) as c:
        owner = await signup(c)
        viber.refuse(2, "invalid auth token")
        made = (
            await owner.post(
                "/api/channels", json={"kind": "viber", "config": {"auth_token": secret()}}
            )
        ).json()
        assert made["webhook_registered"] is False
        fresh = secret()
        edited = await owner.patch(
            f"/api/channels/{made['id']}", json={"config": {"auth_token": fresh}}
        )
        assert edited.json()["webhook_registered"] is False
        assert edited.json()["webhook_error"] == (
            "The Viber auth token is not valid; update the channel's token."
        )
        again = await owner.post(f"/api/channels/{made['id']}/register-webhook")
        assert again.status_code == 502 and "invalid auth token" in again.json()["detail"]
        viber.accept()
        again = await owner.post(f"/api/channels/{made['id']}/register-webhook")
        assert again.status_code == 200
        assert again.json()["webhook_url"] == made["webhook_url"]
        token, body = viber.calls[-1]
        assert token == fresh and body["url"] == made["webhook_url"]
