"""INVIARO_PROVIDER_ORIGINS: outside calls to a listed origin go to its stand-in."""

from __future__ import annotations

import httpx
import pytest

from web import provider_origins
from web.config import ConfigError, load

SECRET = {"INVIARO_SECRET_KEY": "x" * 40}


def test_pairs_are_parsed_into_origins() -> None:
    raw = "https://graph.facebook.com=http://127.0.0.1:9001, https://chatapi.viber.com/=http://[::1]:9002"
    assert provider_origins.parse(raw) == {
        "https://graph.facebook.com": "http://127.0.0.1:9001",
        "https://chatapi.viber.com": "http://[::1]:9002",
    }


@pytest.mark.parametrize(
    "raw",
    ["https://graph.facebook.com", "graph.facebook.com=http://127.0.0.1:1", "https://a/x=http://b"],
)
def test_a_malformed_pair_stops_start_up_with_a_sentence(raw: str) -> None:
    with pytest.raises(ConfigError, match="INVIARO_PROVIDER_ORIGINS"):
        load({**SECRET, "INVIARO_PROVIDER_ORIGINS": raw})


async def test_a_listed_origin_is_rewritten_with_path_and_query_unchanged() -> None:
    seen: list[str] = []
    inner = httpx.MockTransport(
        lambda request: seen.append(str(request.url)) or httpx.Response(200)
    )
    transport = provider_origins.RewritingTransport(
        {"https://graph.facebook.com": "http://127.0.0.1:9001"}, inner
    )
    async with httpx.AsyncClient(transport=transport) as client:
        await client.post("https://graph.facebook.com/v21.0/123/messages?appsecret_proof=p")
        await client.get("https://example.com/other")
    assert seen == [
        "http://127.0.0.1:9001/v21.0/123/messages?appsecret_proof=p",
        "https://example.com/other",
    ]
