"""``INVIARO_PROVIDER_ORIGINS``: every outside call to a listed origin goes elsewhere.

Staging and tests point Meta, Viber, Google, Microsoft, the AI provider and Stripe at
stand-ins (CONTRACT.md, "Provider endpoints"): ``https://graph.facebook.com=http://127.0.0.1:9001``
sends ``https://graph.facebook.com/v21.0/123/messages`` to ``http://127.0.0.1:9001/v21.0/123/messages``,
path and query unchanged. The rewrite is an httpx transport, so adapters keep their real
URLs and know nothing of it; production leaves the setting unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx


class BadProviderOrigins(ValueError):
    """The setting is malformed; the message is one sentence naming the bad pair."""


def parse(raw: str) -> dict[str, str]:
    """``"https://a=http://127.0.0.1:1,https://b=http://127.0.0.1:2"`` to ``{from: to}``."""
    pairs: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        source, sep, target = item.partition("=")
        if not sep:
            raise BadProviderOrigins(f"expected ORIGIN=ORIGIN, not {item!r}")
        pairs[_origin(source)] = _origin(target)
    return pairs


def _origin(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise BadProviderOrigins(f"{value.strip()!r} is not an http(s) origin")
    return f"{parts.scheme}://{parts.netloc.lower()}"


class RewritingTransport(httpx.AsyncBaseTransport):
    """Sends requests for a mapped origin to its stand-in; every other request as is."""

    def __init__(self, origins: Mapping[str, str], inner: httpx.AsyncBaseTransport) -> None:
        self._targets = {source: httpx.URL(target) for source, target in origins.items()}
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        target = self._targets.get(f"{url.scheme}://{url.netloc.decode('ascii').lower()}")
        if target is not None:
            request.url = url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
            request.headers["host"] = request.url.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def client(origins: Mapping[str, str], timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The process's client for outside calls, rewriting ``origins`` when there are any."""
    if not origins:
        return httpx.AsyncClient(timeout=timeout)
    return httpx.AsyncClient(
        timeout=timeout, transport=RewritingTransport(origins, httpx.AsyncHTTPTransport())
    )
