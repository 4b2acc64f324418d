from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import httpx
import pytest

from adapters.base import ProviderError, SendError, SendResult
from adapters.meta import MessengerAdapter, WhatsAppAdapter
from hub.model import Attachment

Handler = Callable[[httpx.Request], httpx.Response]

WA = WhatsAppAdapter(
    phone_number_id="1122334455667", access_token="wa-token", app_secret="s", verify_token="v"
)
FB = MessengerAdapter(
    account_id="106123456789012",
    access_token="page-token",
    app_secret="fb-secret",
    verify_token="v",
)
IG = MessengerAdapter(
    account_id="17841400000000000",
    access_token="ig-token",
    app_secret="fb-secret",
    verify_token="v",
    kind="instagram",
    webhook_object="instagram",
)
WA_OK = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
    "messages": [{"id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}],
}
TOKEN_EXPIRED = {
    "error": {
        "message": "Error validating access token: Session has expired.",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
        "fbtrace_id": "AbCdEf",
    }
}


def client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_whatsapp_text_send_posts_the_documented_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert str(request.url) == "https://graph.facebook.com/v21.0/1122334455667/messages"
        assert request.headers["authorization"] == "Bearer wa-token"
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "972987654321",
            "type": "text",
            "text": {"body": "Hi! Your appointment is confirmed.", "preview_url": False},
        }
        return httpx.Response(200, json=WA_OK)

    async with client(handler) as http:
        result = await WA.send(http, "972987654321", "Hi! Your appointment is confirmed.")
    assert result == SendResult("wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA")


async def test_whatsapp_image_by_link_carries_the_text_as_caption() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "972987654321",
            "type": "image",
            "image": {"link": "https://cdn.example/a.jpg", "caption": "look"},
        }
        return httpx.Response(200, json={"messages": [{"id": "wamid.img"}]})

    attachment = Attachment(url="https://cdn.example/a.jpg", mime="image/jpeg")
    async with client(handler) as http:
        result = await WA.send(http, "972987654321", "look", [attachment])
    assert result == SendResult("wamid.img")


async def test_whatsapp_429_is_retryable_with_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"error": {"code": 4}})

    async with client(handler) as http:
        with pytest.raises(SendError) as caught:
            await WA.send(http, "972987654321", "hi")
    assert (caught.value.retryable, caught.value.retry_after) == (True, 30.0)


async def test_whatsapp_500_is_retryable() -> None:
    async with client(lambda request: httpx.Response(500, text="oops")) as http:
        with pytest.raises(SendError) as caught:
            await WA.send(http, "972987654321", "hi")
    assert caught.value.retryable
    assert caught.value.retry_after is None


async def test_whatsapp_timeout_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with client(handler) as http:
        with pytest.raises(SendError) as caught:
            await WA.send(http, "972987654321", "hi")
    assert caught.value.retryable


async def test_whatsapp_connection_error_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(handler) as http:
        with pytest.raises(SendError) as caught:
            await WA.send(http, "972987654321", "hi")
    assert caught.value.retryable


async def test_expired_token_error_190_is_not_retryable() -> None:
    async with client(lambda request: httpx.Response(401, json=TOKEN_EXPIRED)) as http:
        with pytest.raises(SendError) as caught:
            await WA.send(http, "972987654321", "hi")
    assert (caught.value.retryable, caught.value.code) == (False, "190")
    assert "Session has expired" in caught.value.detail


async def test_bad_request_is_not_retryable() -> None:
    body = {"error": {"message": "(#131047) Re-engagement message", "code": 131047}}
    async with client(lambda request: httpx.Response(400, json=body)) as http:
        with pytest.raises(SendError) as caught:
            await WA.send(http, "972987654321", "hi")
    assert (caught.value.retryable, caught.value.code) == (False, "131047")


async def test_throttling_code_inside_a_400_is_retryable() -> None:
    body = {"error": {"message": "(#130429) Rate limit hit", "code": 130429}}
    async with client(lambda request: httpx.Response(400, json=body)) as http:
        with pytest.raises(SendError) as caught:
            await WA.send(http, "972987654321", "hi")
    assert caught.value.retryable


async def test_success_without_a_message_id_is_an_error_not_retried() -> None:
    async with client(lambda request: httpx.Response(200, json={"messages": []})) as http:
        with pytest.raises(SendError) as caught:
            await WA.send(http, "972987654321", "hi")
    assert not caught.value.retryable


async def test_empty_message_is_refused_without_a_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    async with client(handler) as http:
        with pytest.raises(SendError):
            await WA.send(http, "972987654321", "")


async def test_messenger_send_posts_to_the_page_with_appsecret_proof() -> None:
    proof = hmac.new(b"fb-secret", b"page-token", hashlib.sha256).hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.copy_with(query=None) == httpx.URL(
            "https://graph.facebook.com/v21.0/106123456789012/messages"
        )
        assert dict(request.url.params) == {"appsecret_proof": proof}
        assert request.headers["authorization"] == "Bearer page-token"
        assert json.loads(request.content) == {
            "recipient": {"id": "6543210987654321"},
            "messaging_type": "RESPONSE",
            "message": {"text": "hello, world"},
        }
        return httpx.Response(
            200, json={"recipient_id": "6543210987654321", "message_id": "AG5Hz2U"}
        )

    async with client(handler) as http:
        assert await FB.send(http, "6543210987654321", "hello, world") == SendResult("AG5Hz2U")


async def test_instagram_send_posts_to_the_account_id() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        assert request.headers["authorization"] == "Bearer ig-token"
        return httpx.Response(200, json={"recipient_id": "1", "message_id": "ig-mid"})

    async with client(handler) as http:
        assert await IG.send(http, "1234567890123456", "hi") == SendResult("ig-mid")
    assert seen == ["/v21.0/17841400000000000/messages"]


async def test_messenger_attachment_follows_the_text_as_its_own_message() -> None:
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content)["message"])
        return httpx.Response(200, json={"message_id": f"m{len(bodies)}"})

    attachment = Attachment(url="https://cdn.example/a.pdf", mime="application/pdf")
    async with client(handler) as http:
        result = await FB.send(http, "6543210987654321", "here", [attachment])
    assert result == SendResult("m1", ("m2",))
    assert bodies == [
        {"text": "here"},
        {
            "attachment": {
                "type": "file",
                "payload": {"url": "https://cdn.example/a.pdf", "is_reusable": True},
            }
        },
    ]


async def test_messenger_token_error_190_is_not_retryable() -> None:
    async with client(lambda request: httpx.Response(400, json=TOKEN_EXPIRED)) as http:
        with pytest.raises(SendError) as caught:
            await FB.send(http, "6543210987654321", "hi")
    assert (caught.value.retryable, caught.value.code) == (False, "190")


async def test_fetch_media_looks_up_the_url_then_downloads_with_the_token() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        assert request.headers["authorization"] == "Bearer wa-token"
        if request.url.host == "graph.facebook.com":
            return httpx.Response(
                200,
                json={
                    "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
                    "mime_type": "image/jpeg",
                    "sha256": "x",
                    "file_size": 3,
                    "id": "65463453",
                    "messaging_product": "whatsapp",
                },
            )
        return httpx.Response(200, content=b"\xff\xd8\xff")

    async with client(handler) as http:
        assert await WA.fetch_media(http, "65463453") == (b"\xff\xd8\xff", "image/jpeg")
    assert calls == [
        "https://graph.facebook.com/v21.0/65463453",
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
    ]


async def test_fetch_media_of_an_unknown_id_is_not_retryable() -> None:
    body = {"error": {"message": "Unsupported get request", "code": 100}}
    async with client(lambda request: httpx.Response(400, json=body)) as http:
        with pytest.raises(ProviderError) as caught:
            await WA.fetch_media(http, "nope")
    assert not caught.value.retryable
    assert not isinstance(caught.value, SendError)
