"""Calls to Meta's Graph API: the base URL, error classification, and authenticated POSTs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.base import (
    ProviderError,
    SendError,
    hmac_sha256_hex,
    require_str,
    response_json,
    retry_after_seconds,
    retryable_status,
    transport_error,
)

GRAPH_VERSION = "v21.0"
GRAPH_BASE = f"https://graph.facebook.com/{GRAPH_VERSION}"
# Where Meta serves inbound media files (CHANNELS.md: the media lookup answers a
# lookaside.fbsbx.com URL; Messenger and Instagram attachments are on *.fbcdn.net).
MEDIA_HOSTS = frozenset({"lookaside.fbsbx.com", "graph.facebook.com"})
MEDIA_HOST_SUFFIXES = (".fbsbx.com", ".fbcdn.net")

# Meta error codes that mean "slow down / try again" even inside a 400 answer.
RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131056})
# Token expired, revoked or session invalid: retrying cannot help; the channel needs re-auth.
AUTH_CODES = frozenset({102, 190})


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """``appsecret_proof``: HMAC-SHA256 of the access token keyed with the app secret."""
    return hmac_sha256_hex(app_secret, access_token.encode("utf-8"))


def failure(response: httpx.Response, what: str, error: type[ProviderError]) -> ProviderError:
    body = response_json(response)
    details = body.get("error") if isinstance(body, dict) else None
    details = details if isinstance(details, dict) else {}
    code = details.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = details.get("message") if isinstance(details.get("message"), str) else None
    retryable = retryable_status(response.status_code)
    if code is not None and code in RETRYABLE_CODES:
        retryable = True
    if code is not None and code in AUTH_CODES:
        retryable = False
    detail = f"{what} failed with HTTP {response.status_code}"
    if code is not None:
        detail += f", Meta error {code}"
    if message:
        detail += f": {message}"
    return error(
        detail,
        retryable=retryable,
        retry_after=retry_after_seconds(response),
        code=None if code is None else str(code),
    )


async def graph_call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    token: str,
    what: str,
    error: type[ProviderError],
    **kwargs: Any,
) -> httpx.Response:
    """One call with the bearer token; a transport failure or non-2xx raises ``error``."""
    try:
        response = await client.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
    except httpx.HTTPError as exc:
        raise transport_error(exc, what, error) from exc
    if not response.is_success:
        raise failure(response, what, error)
    return response


async def graph_post(
    client: httpx.AsyncClient,
    url: str,
    payload: dict[str, Any],
    *,
    token: str,
    params: Mapping[str, str] | None = None,
    what: str,
) -> dict[str, Any]:
    response = await graph_call(
        client, "POST", url, token=token, what=what, error=SendError, json=payload, params=params
    )
    body = response_json(response)
    if not isinstance(body, dict):
        raise SendError(f"{what}: the answer is not a JSON object", retryable=False)
    return body


def media_kind(mime: str | None) -> str:
    major = (mime or "").split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "document"


def app_credentials(config: Mapping[str, Any]) -> dict[str, str]:
    """The secrets every Meta channel's config holds beside its account id."""
    return {key: require_str(config, key) for key in ("access_token", "app_secret", "verify_token")}
