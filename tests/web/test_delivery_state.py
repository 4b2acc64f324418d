"""The true state of an outbound message: queued, sending, sent (or queued again while it
retries, saying why), failed with the provider's reason in words, and Retry.

The provider is a scripted ``httpx.MockTransport`` WhatsApp (see ``test_outbox``); the
worker's pass is driven with ``run_once`` on a server whose in-process worker is off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from hub.model import utcnow
from tests.web.realtime import Socket, close_all_sockets, operator_socket
from tests.web.test_outbox import Provider, accepted, outbox_row, queued_reply
from tests.web.webhook_hub import Hub, hub_server, send_due

EXPIRED = httpx.Response(
    401,
    json={"error": {"message": "Session has expired", "type": "OAuthException", "code": 190}},
)
WINDOW_CLOSED = httpx.Response(
    400, json={"error": {"message": "Re-engagement message", "code": 131047}}
)
THROTTLED = httpx.Response(
    429, headers={"Retry-After": "30"}, json={"error": {"code": 130429, "message": "Rate"}}
)


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started
    await close_all_sockets()


async def message(hub: Hub, message_id: str) -> dict[str, Any]:
    """The message as the public API shows it."""
    row = await hub.message(message_id)
    response = await hub.owner.get(f"/api/conversations/{row.conversation_id}/messages")
    assert response.status_code == 200
    [found] = [m for m in response.json()["items"] if m["id"] == message_id]
    return dict(found)


async def receipts(sock: Socket, message_id: str, count: int) -> list[dict[str, Any]]:
    return [await sock.wait_for(type="receipt", message_id=message_id) for _ in range(count)]


async def test_a_new_reply_is_queued_with_no_error_and_no_attempts(hub: Hub) -> None:
    _, _, message_id = await queued_reply(hub)
    shown = await message(hub, message_id)
    assert (shown["status"], shown["error"], shown["attempts"], shown["private"]) == (
        "queued",
        None,
        0,
        False,
    )


async def test_a_permanent_failure_shows_the_providers_reason_in_words(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    async with Provider(phone_number_id, [EXPIRED]).client() as client:
        await send_due(hub, client=client)
    shown = await message(hub, message_id)
    assert shown["status"] == "failed"
    assert shown["error"] == {
        "code": "190",
        "detail": "Access token expired or revoked; update the channel with a new one.",
    }


async def test_a_closed_window_reads_as_such(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    async with Provider(phone_number_id, [WINDOW_CLOSED]).client() as client:
        await send_due(hub, client=client)
    error = (await message(hub, message_id))["error"]
    assert error["code"] == "131047"
    assert error["detail"].startswith("The recipient's 24-hour window has closed")


async def test_receipts_say_sending_then_failed_with_the_reason(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    sock = await operator_socket(hub.owner, hub.live.ws_url)
    async with Provider(phone_number_id, [EXPIRED]).client() as client:
        await send_due(hub, client=client)
    sending, failed = await receipts(sock, message_id, 2)
    assert (sending["status"], sending["attempts"]) == ("sending", 1)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "190" and "expired" in failed["error"]["detail"]


async def test_a_retrying_send_says_so(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    sock = await operator_socket(hub.owner, hub.live.ws_url)
    async with Provider(phone_number_id, [THROTTLED]).client() as client:
        await send_due(hub, client=client)
    _, waiting = await receipts(sock, message_id, 2)
    assert (waiting["status"], waiting["attempts"]) == ("queued", 1)
    assert waiting["error"]["code"] == "130429" and waiting["next_attempt_at"]
    shown = await message(hub, message_id)
    assert (shown["status"], shown["attempts"], shown["error"]) == (
        "queued",
        1,
        waiting["error"],
    )
    assert shown["next_attempt_at"] == waiting["next_attempt_at"]


async def test_retry_queues_a_failed_send_again_and_it_is_sent(hub: Hub) -> None:
    phone_number_id, _, message_id = await queued_reply(hub)
    async with Provider(phone_number_id, [EXPIRED]).client() as client:
        await send_due(hub, client=client)
    conv = (await hub.message(message_id)).conversation_id
    sock = await operator_socket(hub.owner, hub.live.ws_url)
    response = await hub.owner.post(f"/api/conversations/{conv}/messages/{message_id}/retry")
    assert response.status_code == 202, response.text
    assert (response.json()["status"], response.json()["error"]) == ("queued", None)
    assert (await sock.wait_for(type="receipt", message_id=message_id))["status"] == "queued"
    assert await outbox_row(hub, message_id) is not None
    provider = Provider(phone_number_id, [accepted("wamid.retried")])
    async with provider.client() as client:
        await send_due(hub, client=client, now=utcnow() + timedelta(seconds=1))
    assert len(provider.requests) == 1
    shown = await message(hub, message_id)
    assert (shown["status"], shown["error"]) == ("sent", None)


async def test_only_a_failed_reply_can_be_retried(hub: Hub) -> None:
    _, _, message_id = await queued_reply(hub)
    conv = (await hub.message(message_id)).conversation_id
    url = f"/api/conversations/{conv}/messages/{message_id}/retry"
    response = await hub.owner.post(url)
    assert (response.status_code, response.json()["error"]) == (409, "not_retryable")
    missing = await hub.owner.post(f"/api/conversations/{conv}/messages/msg_nope/retry")
    assert missing.status_code == 404
    elsewhere = await hub.owner.post(f"/api/conversations/cv_nope/messages/{message_id}/retry")
    assert elsewhere.status_code == 404
