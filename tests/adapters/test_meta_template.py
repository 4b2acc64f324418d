"""WhatsApp template sends: the exact Cloud API request (CHANNELS.md §2.5)."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.base import SendError, SendResult
from adapters.meta import WhatsAppAdapter

WA = WhatsAppAdapter(
    phone_number_id="1122334455667", access_token="wa-token", app_secret="s", verify_token="v"
)
URL = "https://graph.facebook.com/v21.0/1122334455667/messages"
WAMID = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
OK = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
    "messages": [{"id": WAMID, "message_status": "accepted"}],
}


async def test_a_template_send_posts_the_documented_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        result = await WA.send_template(
            http, "972987654321", "appointment_reminder", "en_US", ["Anna", "10:00"]
        )
    assert result == SendResult(WAMID)
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["authorization"] == "Bearer wa-token"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "972987654321",
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Anna"},
                        {"type": "text", "text": "10:00"},
                    ],
                }
            ],
        },
    }


async def test_a_template_without_parameters_has_no_components() -> None:
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=OK)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await WA.send_template(http, "972987654321", "hello_world", "de", [])
    assert bodies == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "972987654321",
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "de"}},
        }
    ]


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (429, {"error": {"code": 130429, "message": "Rate limit hit"}}, True),
        (503, {"error": {"code": 1, "message": "Unavailable"}}, True),
        (400, {"error": {"code": 132001, "message": "Template name does not exist"}}, False),
        (200, {"messaging_product": "whatsapp", "messages": []}, False),
    ],
)
async def test_template_failures_are_classified_like_text_sends(
    status: int, body: dict[str, object], retryable: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(SendError) as failed:
            await WA.send_template(http, "972987654321", "hello_world", "en_US", ["x"])
    assert failed.value.retryable is retryable
