"""The attack: a WhatsApp media lookup that names a file somewhere else. The download
carries the channel's access token, so it may go only to Meta's media hosts; anything else
is refused and never requested (the transport records every request that was made)."""

from __future__ import annotations

import httpx
import pytest

from adapters.meta import UntrustedMediaURL, WhatsAppAdapter

WA = WhatsAppAdapter(
    phone_number_id="106540352242922",
    access_token="wa-token",
    app_secret="secret",
    verify_token="verify",
)


async def fetch(media_url: str) -> list[str]:
    """Fetch media whose lookup answers ``media_url``; the URLs requested, in order."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if request.url.host == "graph.facebook.com" and request.url.path.endswith("/65463453"):
            return httpx.Response(200, json={"url": media_url, "mime_type": "image/jpeg"})
        return httpx.Response(200, content=b"\xff\xd8\xff")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await WA.fetch_media(http, "65463453")
    return calls


@pytest.mark.parametrize(
    "url",
    [
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
        "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg",
        "https://graph.facebook.com/v21.0/65463453/file",
    ],
)
async def test_media_on_metas_hosts_is_downloaded(url: str) -> None:
    assert (await fetch(url))[1] == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/steal",
        "http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
        "https://lookaside.fbsbx.com.evil.example/x",
        "https://evilfbcdn.net/x",
        "https://lookaside.fbsbx.com:8443/x",
        "https://user@evil.example@lookaside.fbsbx.com/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "file:///etc/passwd",
        "//lookaside.fbsbx.com/x",
        "https://lookaside.fbsbx.com:99999/x",
    ],
)
async def test_media_anywhere_else_is_refused_and_never_requested(url: str) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if request.url.host == "graph.facebook.com":
            return httpx.Response(200, json={"url": url, "mime_type": "image/jpeg"})
        return httpx.Response(200, content=b"stolen")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(UntrustedMediaURL) as caught:
            await WA.fetch_media(http, "65463453")
    assert calls == ["https://graph.facebook.com/v21.0/65463453"]
    assert not caught.value.retryable


async def test_a_graph_origin_pointed_elsewhere_is_trusted_for_its_own_files_only() -> None:
    fake = WhatsAppAdapter(
        phone_number_id="1",
        access_token="t",
        app_secret="s",
        verify_token="v",
        graph_base="http://127.0.0.1:9001/v21.0",
    )
    assert fake.is_media_host("http://127.0.0.1:9001/media/1")
    assert not fake.is_media_host("http://127.0.0.1:9002/media/1")
