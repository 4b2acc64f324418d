"""Operator replies leave through the outbox: the worker's pass against a mock provider.

The provider is ``httpx.MockTransport``; its handler asserts the exact URL, headers and
JSON body WhatsApp's Cloud API documents, and plays 429s, 5xx, timeouts and permanent
errors. ``run_once`` is driven directly on a server whose in-process worker is off.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from hub.model import utcnow
from storage import models as m
from tests.web.webhook_hub import (
    ACCESS_TOKEN,
    Hub,
    hub_server,
    post_meta,
    send_due,
    unique,
    wa_message,
)
from web.worker import MAX_ATTEMPTS, start_in_process

GRAPH = "https://graph.facebook.com/v21.0"


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started


class Provider:
    """A scripted WhatsApp Cloud API for one phone number id; records what it got."""

    def __init__(self, phone_number_id: str, answers: list[httpx.Response | Exception]) -> None:
        self.url = f"{GRAPH}/{phone_number_id}/messages"
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) != self.url:
            # Another test's leftover on the shared database: refuse it for good.
            return httpx.Response(400, json={"error": {"code": 100, "message": "not mine"}})
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def accepted(wamid: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": "x", "wa_id": "x"}],
            "messages": [{"id": wamid}],
        },
    )


async def queued_reply(hub: Hub, text: str = "Your order ships today.") -> tuple[str, str, str]:
    """A WhatsApp conversation and an operator's reply to it: (phone id, sender, message id)."""
    phone_number_id = unique("10")
    channel = await hub.channel("whatsapp", phone_number_id=phone_number_id)
    sender = unique("4917")
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    response = await hub.owner.post(
        f"/api/conversations/{inbound.conversation_id}/messages", json={"text": text}
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "queued"
    return phone_number_id, sender, str(response.json()["id"])


async def outbox_row(hub: Hub, message_id: str) -> m.OutboxItem | None:
    async with hub.services.db() as db:
        row: m.OutboxItem | None = await db.scalar(
            select(m.OutboxItem).where(m.OutboxItem.message_id == message_id)
        )
        return row


async def test_a_reply_is_sent_with_the_documented_request_and_becomes_sent(hub: Hub) -> None:
    phone_number_id, sender, message_id = await queued_reply(hub, "Your order ships today.")
    assert await outbox_row(hub, message_id) is not None
    provider = Provider(phone_number_id, [accepted("wamid.HBgLMTIzNDU2Nzg5MA==")])
    async with provider.client() as client:
        assert await send_due(hub, client=client) >= 1
    [request] = provider.requests
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": sender,
        "type": "text",
        "text": {"body": "Your order ships today.", "preview_url": False},
    }
    stored = await hub.message(message_id)
    assert (stored.status, stored.provider_message_id) == ("sent", "wamid.HBgLMTIzNDU2Nzg5MA==")
    assert await outbox_row(hub, message_id) is None
    assert hub.services.outbox_backlog >= 0


async def test_a_429_is_retried_after_the_backoff_and_then_sent(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    throttled = httpx.Response(
        429,
        headers={"Retry-After": "30"},
        json={"error": {"code": 130429, "message": "Rate limit hit"}},
    )
    provider = Provider(phone_number_id, [throttled, accepted("wamid.after-429")])
    async with provider.client() as client:
        await send_due(hub, client=client)
        row = await outbox_row(hub, message_id)
        assert row is not None and row.attempts == 1 and row.locked_until is None
        assert row.last_error is not None and "429" in row.last_error
        waiting = await hub.message(message_id)
        # A retrying send says so: queued again, why, after how many attempts, until when.
        assert (waiting.status, waiting.error_code, waiting.attempts) == ("queued", "130429", 1)
        assert (
            waiting.error
            == "WhatsApp's throughput limit for this number was reached; the hub retries."
        )
        assert waiting.next_attempt_at is not None
        # Not due yet: Retry-After asked for 30 s at least.
        await send_due(hub, client=client, now=utcnow() + timedelta(seconds=5))
        assert len(provider.requests) == 1
        await send_due(hub, client=client, now=utcnow() + timedelta(minutes=5))
    assert len(provider.requests) == 2
    stored = await hub.message(message_id)
    assert (stored.status, stored.provider_message_id) == ("sent", "wamid.after-429")
    assert await outbox_row(hub, message_id) is None


async def test_timeouts_and_5xx_are_retried(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    provider = Provider(
        phone_number_id,
        [
            httpx.ReadTimeout("slow"),
            httpx.Response(503, json={"error": {"code": 2, "message": "Service unavailable"}}),
            accepted("wamid.third-time"),
        ],
    )
    async with provider.client() as client:
        for minutes in (0, 10, 30):
            await send_due(hub, client=client, now=utcnow() + timedelta(minutes=minutes))
    assert len(provider.requests) == 3
    assert (await hub.message(message_id)).status == "sent"


async def test_a_permanent_error_fails_at_once_with_a_readable_reason(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    expired = httpx.Response(
        401,
        json={
            "error": {
                "message": "Error validating access token: Session has expired",
                "type": "OAuthException",
                "code": 190,
            }
        },
    )
    provider = Provider(phone_number_id, [expired])
    async with provider.client() as client:
        await send_due(hub, client=client)
        await send_due(hub, client=client, now=utcnow() + timedelta(hours=1))
    assert len(provider.requests) == 1
    stored = await hub.message(message_id)
    assert stored.status == "failed"
    assert stored.error_code == "190"
    assert stored.error == "Access token expired or revoked; update the channel with a new one."
    assert await outbox_row(hub, message_id) is None


async def test_a_send_that_keeps_failing_gives_up_after_the_last_attempt(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    provider = Provider(phone_number_id, [httpx.Response(500, json={})])
    async with provider.client() as client:
        for hour in range(MAX_ATTEMPTS + 2):
            await send_due(hub, client=client, now=utcnow() + timedelta(hours=hour))
    assert len(provider.requests) == MAX_ATTEMPTS
    stored = await hub.message(message_id)
    assert stored.status == "failed" and stored.error is not None and "500" in stored.error
    assert (stored.error_code, stored.attempts) == ("provider_error", MAX_ATTEMPTS)


async def test_a_reply_on_a_deleted_channel_fails_without_calling_the_provider(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    channel_id = (await hub.message(message_id)).channel_id
    assert (await hub.owner.delete(f"/api/channels/{channel_id}")).status_code == 204
    provider = Provider(phone_number_id, [accepted("wamid.never")])
    async with provider.client() as client:
        await send_due(hub, client=client)
    assert provider.requests == []
    assert (await hub.message(message_id)).status == "failed"


async def test_the_in_process_worker_sends_replies_on_its_own(db_url: str) -> None:
    phone_number_id = unique("10")
    provider = Provider(phone_number_id, [accepted(f"wamid.{uuid.uuid4().hex}")])
    async with hub_server(db_url, run_worker=True) as hub:
        saved, hub.services.http = hub.services.http, provider.client()
        try:
            start_in_process(hub.services)
            start_in_process(hub.services)  # idempotent
            channel = await hub.channel("whatsapp", phone_number_id=phone_number_id)
            data = wa_message("wa_text.json", wamid=unique("wamid."), sender=unique("4917"))
            assert (await post_meta(hub, channel, data)).status_code == 200
            [inbound] = await hub.messages(channel)
            response = await hub.owner.post(
                f"/api/conversations/{inbound.conversation_id}/messages", json={"text": "hi"}
            )
            message_id = response.json()["id"]
            for _ in range(100):
                if (await hub.message(message_id)).status == "sent":
                    break
                await asyncio.sleep(0.05)
            assert (await hub.message(message_id)).status == "sent"
            assert len(provider.requests) == 1
        finally:
            await hub.services.http.aclose()
            hub.services.http = saved
