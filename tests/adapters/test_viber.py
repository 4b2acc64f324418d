from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from adapters.base import PayloadError, ProviderError, SendError, SendResult, adapter_for
from adapters.viber import ViberAdapter, parse_callback, set_webhook
from hub.model import Attachment, ProviderMessage, ProviderStatus

Payload = Callable[[str], bytes]
Sign = Callable[[str, bytes], str]
Handler = Callable[[httpx.Request], httpx.Response]
TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
VIBER = ViberAdapter(auth_token=TOKEN, sender_name="Acme Dental")
USER = "jc9HsWTZ2Yf2NkRZ8KcNug=="
SENT_AT = datetime.fromtimestamp(1457764197.627, UTC)


def client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_signature_over_the_raw_body_is_accepted(payload: Payload, sign: Sign) -> None:
    body = payload("viber_message_text.json")
    assert VIBER.verify({"X-Viber-Content-Signature": sign(TOKEN, body)}, body)


def test_signature_with_another_token_is_refused(payload: Payload, sign: Sign) -> None:
    body = payload("viber_message_text.json")
    assert not VIBER.verify({"X-Viber-Content-Signature": sign("other", body)}, body)


def test_body_reserialised_differently_is_refused(payload: Payload, sign: Sign) -> None:
    raw = payload("viber_message_text.json")
    reserialised = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert not VIBER.verify({"X-Viber-Content-Signature": sign(TOKEN, raw)}, reserialised)


def test_missing_signature_is_refused(payload: Payload) -> None:
    assert not VIBER.verify({}, payload("viber_message_text.json"))


def test_text_message_becomes_provider_message_with_string_token(payload: Payload) -> None:
    assert parse_callback(payload("viber_message_text.json")) == [
        ProviderMessage(
            provider_message_id="4912661846655238145",
            contact_external_id=USER,
            contact_name="John McClane",
            text="a message to the service",
            sent_at=SENT_AT,
        )
    ]


def test_picture_caption_becomes_text_and_media_an_attachment(payload: Payload) -> None:
    [event] = parse_callback(payload("viber_message_picture.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "caption"
    assert event.attachments == (
        Attachment(url="https://dl-media.viber.com/a.jpg", name="a.jpg", size=12345),
    )


def test_file_keeps_its_name_and_size(payload: Payload) -> None:
    [event] = parse_callback(payload("viber_message_file.json"))
    assert isinstance(event, ProviderMessage)
    assert event.attachments == (
        Attachment(url="https://dl-media.viber.com/doc.pdf", name="doc.pdf", size=4096),
    )


def test_location_becomes_readable_text(payload: Payload) -> None:
    [event] = parse_callback(payload("viber_message_location.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "📍 (50.76891, 6.11499)"


def test_contact_becomes_name_and_number(payload: Payload) -> None:
    [event] = parse_callback(payload("viber_message_contact.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "👤 Itamar +972511123123"


def test_url_message_becomes_the_url(payload: Payload) -> None:
    [event] = parse_callback(payload("viber_message_url.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "https://example.com/page"


def test_sticker_without_media_still_reaches_the_inbox(payload: Payload) -> None:
    [event] = parse_callback(payload("viber_message_sticker.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "[sticker]"


@pytest.mark.parametrize(
    ("fixture", "status", "error"),
    [
        ("viber_delivered.json", "delivered", None),
        ("viber_seen.json", "read", None),
        ("viber_failed.json", "failed", "failure description"),
    ],
)
def test_receipts_become_provider_status(
    payload: Payload, fixture: str, status: str, error: str | None
) -> None:
    assert parse_callback(payload(fixture)) == [
        ProviderStatus("4912661846655238145", status, SENT_AT, error)  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(
    "fixture",
    [
        "viber_subscribed.json",
        "viber_unsubscribed.json",
        "viber_conversation_started.json",
        "viber_webhook.json",
    ],
)
def test_subscription_events_give_no_event(payload: Payload, fixture: str) -> None:
    assert parse_callback(payload(fixture)) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"timestamp": 1}',
        b'{"event": "message", "message_token": 1, "sender": {"id": "u"}}',
        b'{"event": "message", "message_token": 1, "message": {"type": "text", "text": "x"}}',
        b'{"event": "message", "sender": {"id": "u"}, "message": {"type": "text", "text": "x"}}',
        b'{"event": "message", "message_token": 1.5, "sender": {"id": "u"},'
        b' "message": {"type": "text"}}',
        b'{"event": "message", "message_token": 1, "sender": {"id": "u"},'
        b' "message": {"type": "location", "location": {"lat": "x", "lon": 1}}}',
        b'{"event": "delivered", "timestamp": 1}',
        b'{"event": "seen", "message_token": 1, "timestamp": "yesterday"}',
    ],
)
def test_malformed_callback_raises_payload_error_only(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_callback(body)


async def test_send_posts_the_documented_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert str(request.url) == "https://chatapi.viber.com/pa/send_message"
        assert request.headers["x-viber-auth-token"] == TOKEN
        assert json.loads(request.content) == {
            "receiver": USER,
            "min_api_version": 1,
            "sender": {"name": "Acme Dental"},
            "type": "text",
            "text": "Hello world!",
        }
        return httpx.Response(
            200,
            json={
                "status": 0,
                "status_message": "ok",
                "message_token": 5741311803571721087,
                "chat_hostname": "SN-CHAT-05_",
                "billing_status": 1,
            },
        )

    async with client(handler) as http:
        assert await VIBER.send(http, USER, "Hello world!") == SendResult("5741311803571721087")


async def test_picture_carries_the_text_as_its_caption() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert (body["type"], body["text"], body["media"]) == (
            "picture",
            "look",
            "https://cdn.example/a.jpg",
        )
        return httpx.Response(200, json={"status": 0, "message_token": 7})

    attachment = Attachment(url="https://cdn.example/a.jpg", mime="image/jpeg")
    async with client(handler) as http:
        assert await VIBER.send(http, USER, "look", [attachment]) == SendResult("7")


async def test_too_many_requests_status_is_retryable() -> None:
    body = {"status": 12, "status_message": "Too many requests"}
    async with client(lambda request: httpx.Response(200, json=body)) as http:
        with pytest.raises(SendError) as caught:
            await VIBER.send(http, USER, "hi")
    assert (caught.value.retryable, caught.value.code) == (True, "12")


async def test_receiver_not_subscribed_status_is_not_retryable() -> None:
    body = {"status": 6, "status_message": "notSubscribed"}
    async with client(lambda request: httpx.Response(200, json=body)) as http:
        with pytest.raises(SendError) as caught:
            await VIBER.send(http, USER, "hi")
    assert (caught.value.retryable, caught.value.code) == (False, "6")


async def test_http_429_is_retryable_with_retry_after() -> None:
    response = httpx.Response(429, headers={"Retry-After": "5"})
    async with client(lambda request: response) as http:
        with pytest.raises(SendError) as caught:
            await VIBER.send(http, USER, "hi")
    assert (caught.value.retryable, caught.value.retry_after) == (True, 5.0)


async def test_http_503_is_retryable() -> None:
    async with client(lambda request: httpx.Response(503)) as http:
        with pytest.raises(SendError) as caught:
            await VIBER.send(http, USER, "hi")
    assert caught.value.retryable


async def test_timeout_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    async with client(handler) as http:
        with pytest.raises(SendError) as caught:
            await VIBER.send(http, USER, "hi")
    assert caught.value.retryable


async def test_set_webhook_posts_url_and_event_types() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://chatapi.viber.com/pa/set_webhook"
        assert request.headers["x-viber-auth-token"] == TOKEN
        assert json.loads(request.content) == {
            "url": "https://my.host.com/webhooks/viber/3f2a",
            "event_types": [
                "delivered",
                "seen",
                "failed",
                "subscribed",
                "unsubscribed",
                "conversation_started",
            ],
            "send_name": True,
        }
        return httpx.Response(
            200,
            json={"status": 0, "status_message": "ok", "event_types": ["delivered", "seen"]},
        )

    async with client(handler) as http:
        types = await set_webhook(http, "https://my.host.com/webhooks/viber/3f2a", TOKEN)
    assert types == ["delivered", "seen"]


async def test_set_webhook_refused_by_viber_raises_provider_error() -> None:
    body = {"status": 2, "status_message": "invalidAuthToken"}
    async with client(lambda request: httpx.Response(200, json=body)) as http:
        with pytest.raises(ProviderError) as caught:
            await set_webhook(http, "https://my.host.com/webhooks/viber/3f2a", TOKEN)
    assert not caught.value.retryable


def test_registry_builds_viber_from_the_auth_token() -> None:
    adapter = adapter_for("viber", {"auth_token": TOKEN, "sender_name": "A" * 40})
    assert isinstance(adapter, ViberAdapter)
    assert adapter.sender_name == "A" * 28
    assert TOKEN not in repr(adapter)
