"""The widget's session endpoint: origins, keys, and identity verification."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
import pytest

from storage import models as m
from tests.conftest import LiveServer
from tests.helpers import Account, signup
from tests.web.realtime import visitor_socket

ORIGIN = "https://shop.example"
SECRET = "identity-secret-of-the-site"


def user_hash(user_id: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Account:
    return await signup(client)


async def widget(owner: Account, **config: Any) -> dict[str, Any]:
    body = {"allowed_origins": [ORIGIN], "identity_secret": SECRET, **config}
    r = await owner.post("/api/channels", {"kind": "widget", "name": "Site", "config": body})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def session(client: httpx.AsyncClient, origin: str = ORIGIN, **body: Any) -> httpx.Response:
    return await client.post("/api/widget/sessions", json=body, headers={"Origin": origin})


async def test_session_has_title_colour_and_socket_url(owner: Account, live: LiveServer) -> None:
    ch = await widget(owner, title="Help", color="#112233")
    async with live.client() as anon:
        r = await session(anon, key=ch["public_key"])
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["title"] == "Help" and body["color"] == "#112233"
        assert body["ws_url"].startswith(f"{live.ws_url}/ws/widget?token=")
        # The URL carries a short-lived connect ticket, never the long-lived visitor token.
        assert body["visitor_token"] not in body["ws_url"]
        again = await session(anon, key=ch["public_key"], visitor_token=body["visitor_token"])
        assert again.json()["conversation_id"] == body["conversation_id"]


async def test_refusals(owner: Account, live: LiveServer) -> None:
    ch = await widget(owner)
    async with live.client() as anon:
        assert (await session(anon, key="pk_nope")).status_code == 404
        r = await session(anon, origin="https://evil.example", key=ch["public_key"])
        assert r.status_code == 403 and r.json()["error"] == "origin_not_allowed"
        r = await session(anon, key=ch["public_key"], visitor_token="forged.token")
        assert r.status_code == 403
        assert (await owner.delete(f"/api/channels/{ch['id']}")).status_code == 204
        assert (await session(anon, key=ch["public_key"])).status_code == 404


async def test_verified_visitor_gets_one_history_across_devices(
    owner: Account, live: LiveServer
) -> None:
    ch = await widget(owner)
    key = ch["public_key"]
    async with live.client() as laptop, live.client() as phone:
        anonymous = (await session(laptop, key=key)).json()
        first = await session(
            laptop,
            key=key,
            visitor_token=anonymous["visitor_token"],
            user_id="u-42",
            user_hash=user_hash("u-42"),
        )
        assert first.status_code == 201, first.text
        # The anonymous conversation is not merged into the verified one.
        assert first.json()["conversation_id"] != anonymous["conversation_id"]
        second = await session(phone, key=key, user_id="u-42", user_hash=user_hash("u-42"))
        assert second.status_code == 201, second.text
        assert second.json()["conversation_id"] == first.json()["conversation_id"]
        other = await session(phone, key=key, user_id="u-43", user_hash=user_hash("u-43"))
        assert other.json()["conversation_id"] != first.json()["conversation_id"]

    conv = first.json()["conversation_id"]
    # Nothing is stored before the user writes; the first message, from either device,
    # creates the one conversation both share.
    assert (await owner.get(f"/api/conversations/{conv}")).status_code == 404
    phone_socket = await visitor_socket(second.json()["ws_url"])
    await phone_socket.send({"type": "send", "ref": "1", "text": "Hi from my phone"})
    await phone_socket.wait_for(type="ack", ref="1")
    await phone_socket.close()
    r = await owner.get(f"/api/conversations/{conv}")
    assert r.status_code == 200, r.text
    contact = (await owner.get(f"/api/contacts/{r.json()['contact']['id']}")).json()
    assert [i["external_id"] for i in contact["identities"]] == ["user:u-42"]


async def test_bad_identity_is_refused_and_merges_nothing(owner: Account, live: LiveServer) -> None:
    ch = await widget(owner)
    key = ch["public_key"]
    async with live.client() as anon:
        for claim in (
            {"user_id": "u-42", "user_hash": user_hash("u-42", "wrong secret")},
            {"user_id": "u-42", "user_hash": user_hash("u-41")},
            {"user_id": "u-42"},
            {"user_hash": user_hash("u-42")},
        ):
            r = await session(anon, key=key, **claim)
            assert r.status_code == 403, (claim, r.text)
            assert r.json()["error"] == "identity_invalid"
    listed = (await owner.get("/api/conversations")).json()["items"]
    assert listed == []


async def test_channel_without_identity_secret_verifies_nobody(
    owner: Account, live: LiveServer
) -> None:
    r = await owner.post(
        "/api/channels",
        {"kind": "widget", "name": "Site", "config": {"allowed_origins": [ORIGIN]}},
    )
    key = r.json()["public_key"]
    async with live.client() as anon:
        r = await session(anon, key=key, user_id="u-1", user_hash=user_hash("u-1"))
        assert r.status_code == 403 and r.json()["error"] == "identity_invalid"


async def test_require_verification_refuses_anonymous_visitors(
    owner: Account, live: LiveServer
) -> None:
    ch = await widget(owner, require_verification=True)
    async with live.client() as anon:
        r = await session(anon, key=ch["public_key"])
        assert r.status_code == 403 and r.json()["error"] == "verification_required"
        r = await session(anon, key=ch["public_key"], user_id="u-7", user_hash=user_hash("u-7"))
        assert r.status_code == 201, r.text


async def test_an_anonymous_token_stops_opening_the_socket_once_verification_is_required(
    owner: Account, live: LiveServer
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    ch = await widget(owner)
    async with live.client() as anon:
        ws_url = (await session(anon, key=ch["public_key"])).json()["ws_url"]
    async with live.app.state.services.db() as db, db.begin():  # type: ignore[attr-defined]
        channel = await db.get(m.Channel, ch["id"])
        channel.config = {**channel.config, "require_verification": True}
    with pytest.raises(InvalidStatus) as refused:
        await connect(ws_url, additional_headers={"Origin": ORIGIN})
    assert refused.value.response.status_code == 403
