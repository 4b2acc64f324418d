"""Channel webhooks end to end, on a real server over SQLite and Postgres.

Payloads are the providers' documented shapes (``tests/adapters/payloads``), signed the
way the providers sign them; provider APIs are played by ``httpx.MockTransport``. The
helpers other channel tests share are in ``tests/web/webhook_hub.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import ChannelEvent, ProviderStatus
from storage import models as m
from storage.writer_sql import provider_id_hash
from tests.web.webhook_hub import (
    ACCESS_TOKEN,
    PAYLOADS,
    VERIFY_TOKEN,
    VIBER_TOKEN,
    Hub,
    body_of,
    hub_server,
    meta_headers,
    payload,
    post_meta,
    unique,
    viber_headers,
    wa_message,
    wa_status,
)
from web.webhooks import store_events


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started


# Verification handshake -------------------------------------------------------------------


async def test_the_meta_handshake_echoes_the_challenge_as_text(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"}
    async with hub.live.client() as client:
        response = await client.get(f"/webhooks/meta/{channel}", params=params)
    assert response.status_code == 200
    assert response.text == "1158"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
async def test_a_wrong_handshake_is_refused_with_403(hub: Hub, params: dict[str, str]) -> None:
    channel = await hub.channel("whatsapp")
    async with hub.live.client() as client:
        response = await client.get(f"/webhooks/meta/{channel}", params=params)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


# Inbound messages -------------------------------------------------------------------------


async def test_a_signed_whatsapp_message_creates_contact_and_conversation_once(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    sender, wamid = unique("49151"), unique("wamid.")
    data = wa_message("wa_text.json", wamid=wamid, sender=sender)
    first = await post_meta(hub, channel, data)
    again = await post_meta(hub, channel, data)  # Meta redelivers
    assert (first.status_code, again.status_code) == (200, 200)
    [message] = await hub.messages(channel)
    assert (message.direction, message.text, message.author_kind) == ("in", "Body Text", "contact")
    assert message.provider_message_id == wamid
    assert await hub.count(m.ContactIdentity, m.ContactIdentity.channel_id == channel) == 1
    async with hub.services.db() as db:
        identity = (
            await db.scalars(
                select(m.ContactIdentity).where(m.ContactIdentity.channel_id == channel)
            )
        ).one()
        contact = await db.get(m.Contact, identity.contact_id)
    assert identity.external_id == sender
    assert contact is not None and contact.name == "Test Name"
    conversations = (await hub.owner.get("/api/conversations")).json()["items"]
    assert [c["contact"]["name"] for c in conversations if c["channel"]["id"] == channel] == [
        "Test Name"
    ]


async def test_a_later_message_from_the_same_sender_joins_the_conversation(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    sender = unique("49152")
    for _ in range(2):
        data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
        assert (await post_meta(hub, channel, data)).status_code == 200
    first, second = await hub.messages(channel)
    assert first.conversation_id == second.conversation_id
    assert (first.seq, second.seq) == (1, 2)


async def test_whatsapp_media_points_at_the_authenticated_proxy(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    data = wa_message("wa_image.json", wamid=unique("wamid."), sender=unique("4915"))
    assert (await post_meta(hub, channel, data)).status_code == 200
    [message] = await hub.messages(channel)
    [attachment] = message.attachments
    assert attachment["url"] == f"/api/media/{channel}/65463453"
    assert attachment["mime"] == "image/jpeg"

    def graph(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
        if request.url.host == "graph.facebook.com":
            assert request.url.path.endswith("/65463453")
            url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453"
            return httpx.Response(200, json={"url": url, "mime_type": "image/jpeg", "id": "1"})
        assert request.url.host == "lookaside.fbsbx.com"
        return httpx.Response(200, content=b"\xff\xd8jpeg-bytes")

    async with hub.mock(graph):
        response = await hub.owner.get(attachment["url"])
    assert response.status_code == 200
    assert response.content == b"\xff\xd8jpeg-bytes"
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    async with hub.live.client() as anonymous:
        assert (await anonymous.get(attachment["url"])).status_code == 401


async def test_whatsapp_media_named_outside_metas_hosts_is_not_fetched(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    data = wa_message("wa_image.json", wamid=unique("wamid."), sender=unique("4915"))
    assert (await post_meta(hub, channel, data)).status_code == 200
    [message] = await hub.messages(channel)
    requested: list[str] = []

    def graph(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        url = "https://collector.evil.example/?mid=65463453"
        return httpx.Response(200, json={"url": url, "mime_type": "image/jpeg", "id": "1"})

    async with hub.mock(graph):
        response = await hub.owner.get(message.attachments[0]["url"])
    assert response.status_code == 502
    assert response.json()["error"] == "bad_gateway"
    assert [urlsplit(url).hostname for url in requested] == ["graph.facebook.com"]


@pytest.mark.parametrize(
    ("kind", "fixture", "expected_text"),
    [
        ("messenger", "messenger_text.json", None),
        ("instagram", "instagram_text.json", None),
    ],
)
async def test_signed_messenger_and_instagram_messages_are_stored_once(
    hub: Hub, kind: str, fixture: str, expected_text: str | None
) -> None:
    channel = await hub.channel(kind)
    data = payload(fixture)
    item = data["entry"][0]["messaging"][0]
    item["sender"]["id"] = unique("psid")
    item["message"]["mid"] = unique("m_")
    for _ in range(2):
        assert (await post_meta(hub, channel, data)).status_code == 200
    [message] = await hub.messages(channel)
    assert message.direction == "in"
    assert message.text == item["message"]["text"]
    assert message.provider_message_id == item["message"]["mid"]


async def test_a_messenger_echo_is_stored_as_outbound_not_as_the_customer(hub: Hub) -> None:
    channel = await hub.channel("messenger")
    data = payload("messenger_echo.json")
    item = data["entry"][0]["messaging"][0]
    item["recipient"]["id"] = unique("psid")
    item["message"]["mid"] = unique("m_")
    assert (await post_meta(hub, channel, data)).status_code == 200
    [message] = await hub.messages(channel)
    assert (message.direction, message.author_kind, message.status) == ("out", "operator", "sent")
    assert await hub.count(m.OutboxItem, m.OutboxItem.message_id == message.id) == 0


async def test_a_signed_viber_message_is_stored_once(hub: Hub) -> None:
    channel = await hub.channel("viber")
    data = payload("viber_message_text.json")
    data["message_token"] = int(uuid.uuid4().int % 10**17)
    data["sender"]["id"] = unique("vb")
    body = body_of(data)
    async with hub.live.client() as client:
        for _ in range(2):
            response = await client.post(
                f"/webhooks/viber/{channel}", content=body, headers=viber_headers(body)
            )
            assert response.status_code == 200
    [message] = await hub.messages(channel)
    assert message.provider_message_id == str(data["message_token"])
    assert message.text == data["message"]["text"]


async def test_viber_subscription_events_are_acknowledged_and_store_nothing(hub: Hub) -> None:
    channel = await hub.channel("viber")
    async with hub.live.client() as client:
        for name in ("viber_webhook.json", "viber_subscribed.json", "viber_unsubscribed.json"):
            body = (PAYLOADS / name).read_bytes()
            response = await client.post(
                f"/webhooks/viber/{channel}", content=body, headers=viber_headers(body)
            )
            assert response.status_code == 200, name
    assert await hub.messages(channel) == []


# Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "not-a-signature"},
        "signed-with-another-secret",
    ],
)
async def test_a_bad_or_missing_meta_signature_is_401_and_stores_nothing(
    hub: Hub, headers: dict[str, str] | str
) -> None:
    channel = await hub.channel("whatsapp")
    body = body_of(wa_message("wa_text.json", wamid=unique("wamid."), sender=unique("4915")))
    sent = meta_headers(body, "another-secret") if isinstance(headers, str) else headers
    async with hub.live.client() as client:
        response = await client.post(f"/webhooks/meta/{channel}", content=body, headers=sent)
    assert response.status_code == 401
    assert set(response.json()) == {"error", "detail"}
    assert await hub.messages(channel) == []
    assert await hub.count(m.ContactIdentity, m.ContactIdentity.channel_id == channel) == 0


async def test_a_bad_viber_signature_is_401_and_stores_nothing(hub: Hub) -> None:
    channel = await hub.channel("viber")
    body = (PAYLOADS / "viber_message_text.json").read_bytes()
    async with hub.live.client() as client:
        response = await client.post(
            f"/webhooks/viber/{channel}", content=body, headers=viber_headers(body, "wrong")
        )
    assert response.status_code == 401
    assert await hub.messages(channel) == []


async def test_unknown_and_deleted_channels_are_404(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    assert (await hub.owner.delete(f"/api/channels/{channel}")).status_code == 204
    body = body_of(wa_message("wa_text.json", wamid=unique("wamid."), sender=unique("4915")))
    for target in (channel, "ch_doesnotexist"):
        response = await post_meta(hub, target, body)
        assert response.status_code == 404
    viber = await hub.channel("whatsapp")  # a Meta channel id is not a Viber channel
    async with hub.live.client() as client:
        response = await client.post(
            f"/webhooks/viber/{viber}", content=body, headers=viber_headers(body)
        )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"object": "page", "entry": []}', b'{"object": "whatsapp_business_account", '],
)
async def test_a_signed_but_malformed_body_is_400(hub: Hub, body: bytes) -> None:
    channel = await hub.channel("whatsapp")
    response = await post_meta(hub, channel, body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_payload"


async def test_a_huge_body_is_413(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    response = await post_meta(hub, channel, b"{" + b" " * (5 * 1024 * 1024) + b"}")
    assert response.status_code == 413


async def test_a_redelivered_message_of_an_erased_contact_is_acknowledged_not_stored(
    hub: Hub,
) -> None:
    channel = await hub.channel("whatsapp")
    wamid = unique("wamid.")
    async with hub.services.db() as db, db.begin():
        db.add(
            m.ErasedProviderMessage(channel_id=channel, id_hash=provider_id_hash(channel, wamid))
        )
    data = wa_message("wa_text.json", wamid=wamid, sender=unique("4915"))
    assert (await post_meta(hub, channel, data)).status_code == 200
    assert await hub.messages(channel) == []


# Delivery reports -------------------------------------------------------------------------


async def outbound(hub: Hub, channel: str, provider_id: str, sender: str) -> m.Message:
    """A conversation started by the customer, with one reply of ours already sent."""
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    response = await hub.owner.post(
        f"/api/conversations/{inbound.conversation_id}/messages", json={"text": "Hello!"}
    )
    assert response.status_code == 201, response.text
    async with hub.services.db() as db, db.begin():
        row = await db.get(m.Message, response.json()["id"])
        assert row is not None
        row.status, row.provider_message_id = "sent", provider_id
        await db.execute(m.OutboxItem.__table__.delete().where(m.OutboxItem.message_id == row.id))
    return await hub.message(response.json()["id"])


async def test_whatsapp_statuses_move_forward_and_never_back(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    wamid = unique("wamid.out")
    message = await outbound(hub, channel, wamid, unique("4915"))
    for name, expected in [
        ("wa_status_sent.json", "sent"),
        ("wa_status_delivered.json", "delivered"),
        ("wa_status_read.json", "read"),
        ("wa_status_delivered.json", "read"),  # late and out of order: no step back
        ("wa_status_sent.json", "read"),
    ]:
        assert (await post_meta(hub, channel, wa_status(name, wamid=wamid))).status_code == 200
        assert (await hub.message(message.id)).status == expected, name


async def test_a_failed_status_keeps_the_providers_error(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    wamid = unique("wamid.out")
    message = await outbound(hub, channel, wamid, unique("4915"))
    data = wa_status("wa_status_failed.json", wamid=wamid)
    assert (await post_meta(hub, channel, data)).status_code == 200
    stored = await hub.message(message.id)
    error = data["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]
    assert stored.status == "failed"
    assert stored.error_code == str(error["code"])
    assert (
        stored.error
        == "The recipient's number is part of a WhatsApp experiment and cannot get this."
    )


async def test_a_status_for_an_unknown_message_is_acknowledged(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    data = wa_status("wa_status_read.json", wamid=unique("wamid.never-sent"))
    assert (await post_meta(hub, channel, data)).status_code == 200


async def test_a_viber_seen_event_marks_the_message_read(hub: Hub) -> None:
    channel = await hub.channel("viber")
    data = payload("viber_message_text.json")
    data["message_token"] = int(uuid.uuid4().int % 10**17)
    data["sender"]["id"] = unique("vb")
    body = body_of(data)
    async with hub.live.client() as client:
        await client.post(f"/webhooks/viber/{channel}", content=body, headers=viber_headers(body))
    [inbound] = await hub.messages(channel)
    reply = await hub.owner.post(
        f"/api/conversations/{inbound.conversation_id}/messages", json={"text": "Hi"}
    )
    token = str(uuid.uuid4().int % 10**17)
    async with hub.services.db() as db, db.begin():
        row = await db.get(m.Message, reply.json()["id"])
        assert row is not None
        row.status, row.provider_message_id = "sent", token
        await db.execute(m.OutboxItem.__table__.delete().where(m.OutboxItem.message_id == row.id))
    seen = payload("viber_seen.json")
    seen["message_token"] = int(token)
    body = body_of(seen)
    async with hub.live.client() as client:
        response = await client.post(
            f"/webhooks/viber/{channel}", content=body, headers=viber_headers(body)
        )
    assert response.status_code == 200
    assert (await hub.message(reply.json()["id"])).status == "read"


async def test_a_messenger_read_watermark_marks_earlier_replies_read(hub: Hub) -> None:
    channel = await hub.channel("messenger")
    psid = unique("psid")
    data = payload("messenger_text.json")
    data["entry"][0]["messaging"][0]["sender"]["id"] = psid
    data["entry"][0]["messaging"][0]["message"]["mid"] = unique("m_")
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    reply = await hub.owner.post(
        f"/api/conversations/{inbound.conversation_id}/messages", json={"text": "Hi"}
    )
    async with hub.services.db() as db, db.begin():
        row = await db.get(m.Message, reply.json()["id"])
        assert row is not None
        row.status, row.provider_message_id = "sent", unique("m_out")
        await db.execute(m.OutboxItem.__table__.delete().where(m.OutboxItem.message_id == row.id))
    read = payload("messenger_read.json")
    item = read["entry"][0]["messaging"][0]
    item["sender"]["id"] = psid
    item["read"]["watermark"] = 4_102_444_800_000  # 2100: after every message here
    assert (await post_meta(hub, channel, read)).status_code == 200
    assert (await hub.message(reply.json()["id"])).status == "read"
    assert (await hub.message(inbound.id)).status == "received"


class FirstTransactionFails:
    """An engine whose first transaction cannot start (the database went away), then
    recovers: a storage failure in the middle of a webhook's reports."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.failed = False

    def begin(self) -> Any:
        if not self.failed:
            self.failed = True
            raise ConnectionError("the database went away")
        return self.engine.begin()


async def test_every_delivery_report_is_attempted_before_a_storage_failure_is_raised(
    hub: Hub,
) -> None:
    channel_id = await hub.channel("whatsapp")
    wamid = unique("wamid.out")
    sent = await outbound(hub, channel_id, wamid, unique("4915"))
    async with hub.services.db() as db:
        channel = await db.get(m.Channel, channel_id)
    assert channel is not None
    engine = cast(AsyncEngine, FirstTransactionFails(hub.services.engine))
    reports: list[ChannelEvent] = [
        ProviderStatus(unique("wamid.other"), "delivered"),
        ProviderStatus(wamid, "read"),
    ]
    with pytest.raises(ConnectionError):
        await store_events(replace(hub.services, engine=engine), channel, reports)
    assert (await hub.message(sent.id)).status == "read"


# Viber webhook registration -----------------------------------------------------------------


async def test_registering_a_viber_webhook_calls_set_webhook(hub: Hub) -> None:
    channel = await hub.channel("viber")
    calls: list[dict[str, Any]] = []

    def viber(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://chatapi.viber.com/pa/set_webhook"
        assert request.headers["x-viber-auth-token"] == VIBER_TOKEN
        calls.append(json.loads(request.content))
        return httpx.Response(
            200, json={"status": 0, "status_message": "ok", "event_types": ["delivered", "seen"]}
        )

    async with hub.mock(viber):
        response = await hub.owner.post(f"/api/channels/{channel}/register-webhook")
    assert response.status_code == 200, response.text
    assert calls[0]["url"] == f"{hub.live.settings.public_url}/webhooks/viber/{channel}"
    assert response.json()["event_types"] == ["delivered", "seen"]

    def refuses(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": 2, "status_message": "invalidAuthToken"})

    async with hub.mock(refuses):
        response = await hub.owner.post(f"/api/channels/{channel}/register-webhook")
    assert response.status_code == 502
    assert "invalidAuthToken" in response.json()["detail"]
