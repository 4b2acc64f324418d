"""A flow's choice as each provider shows it natively, asserted at the request sent, and
the tap read back as the option's value."""

from __future__ import annotations

import json
from typing import Any

import httpx

from adapters.base import numbered
from adapters.meta import MessengerAdapter, parse_messaging, parse_whatsapp
from adapters.viber import ViberAdapter
from hub.model import ProviderMessage

OPTIONS = [("Sales", "1"), ("Support", "2")]
FB = MessengerAdapter(
    account_id="106123456789012", access_token="page-token", app_secret="s", verify_token="v"
)
VIBER = ViberAdapter(auth_token="viber-token", sender_name="Acme")


def capture(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], httpx.AsyncClient]:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=answer)

    return sent, httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_messenger_offers_quick_replies_with_the_values_as_payloads() -> None:
    sent, client = capture({"recipient_id": "psid", "message_id": "m_1"})
    async with client:
        result = await FB.send_options(client, "psid", "How can we help?", OPTIONS)
    assert result.provider_message_id == "m_1"
    assert sent == [
        {
            "recipient": {"id": "psid"},
            "messaging_type": "RESPONSE",
            "message": {
                "text": "How can we help?",
                "quick_replies": [
                    {"content_type": "text", "title": "Sales", "payload": "1"},
                    {"content_type": "text", "title": "Support", "payload": "2"},
                ],
            },
        }
    ]


async def test_viber_offers_a_keyboard_whose_buttons_answer_with_the_number() -> None:
    sent, client = capture(
        {"status": 0, "status_message": "ok", "message_token": 5741311803571721087}
    )
    async with client:
        await VIBER.send_options(client, "viber-user", "How can we help?", OPTIONS)
    (payload,) = sent
    assert payload["type"] == "text" and payload["text"] == "How can we help?"
    assert payload["keyboard"]["Type"] == "keyboard"
    assert [
        (b["ActionType"], b["ActionBody"], b["Text"]) for b in payload["keyboard"]["Buttons"]
    ] == [("reply", "1", "Sales"), ("reply", "2", "Support")]


def test_a_channel_without_buttons_gets_a_numbered_list() -> None:
    assert numbered("How can we help?", OPTIONS) == "How can we help?\n\n1. Sales\n2. Support"


def test_a_whatsapp_button_reply_carries_the_options_value() -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "1",
                                "phone_number_id": "1122334455667",
                            },
                            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "4917"}],
                            "messages": [
                                {
                                    "from": "4917",
                                    "id": "wamid.1",
                                    "timestamp": "1700000000",
                                    "type": "interactive",
                                    "interactive": {
                                        "type": "button_reply",
                                        "button_reply": {"id": "2", "title": "Support"},
                                    },
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    (event,) = parse_whatsapp(json.dumps(body).encode())
    assert isinstance(event, ProviderMessage)
    assert event.text == "Support" and event.option == "2"


def test_a_messenger_quick_reply_carries_the_options_value() -> None:
    body = {
        "object": "page",
        "entry": [
            {
                "id": "106123456789012",
                "time": 1700000000000,
                "messaging": [
                    {
                        "sender": {"id": "psid"},
                        "recipient": {"id": "106123456789012"},
                        "timestamp": 1700000000000,
                        "message": {
                            "mid": "m_2",
                            "text": "Support",
                            "quick_reply": {"payload": "2"},
                        },
                    }
                ],
            }
        ],
    }
    (event,) = parse_messaging(json.dumps(body).encode(), "page")
    assert isinstance(event, ProviderMessage)
    assert event.text == "Support" and event.option == "2"
