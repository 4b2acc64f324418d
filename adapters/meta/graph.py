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


# What Meta's error codes mean for the operator who reads them on a failed message
# (WhatsApp Cloud API and Messenger Platform error code tables; CHANNELS.md).
REASONS: dict[int, str] = {
    0: "Meta could not authenticate the channel; check its access token.",
    3: "The Meta app lacks the capability to send this message.",
    4: "Meta is limiting this app's requests for now; the hub retries.",
    10: "The access token lacks the permission to send messages; grant it in Meta's settings.",
    100: "Meta refused the request as invalid (a wrong id or a parameter it does not accept).",
    102: "The Meta session has expired; reconnect the channel with a new access token.",
    190: "Access token expired or revoked; update the channel with a new one.",
    200: "The access token lacks the permission to send messages; grant it in Meta's settings.",
    368: "Meta has temporarily blocked this account for policy reasons.",
    551: "This person is not available on Messenger right now.",
    613: "Meta is limiting this app's requests for now; the hub retries.",
    80007: "Meta's rate limit for this account was reached; the hub retries.",
    130429: "WhatsApp's throughput limit for this number was reached; the hub retries.",
    130472: "The recipient's number is part of a WhatsApp experiment and cannot get this.",
    131000: "WhatsApp failed to send the message for an unknown reason.",
    131005: "The access token lacks the permission to send messages; grant it in Meta's settings.",
    131008: "A required parameter is missing from the message.",
    131009: "A parameter of the message is not valid.",
    131016: "WhatsApp is temporarily unavailable; the hub retries.",
    131021: "The recipient is the sender's own number.",
    131026: "The recipient cannot receive this message (not on WhatsApp, or an old app).",
    131031: "The WhatsApp Business account is locked.",
    131042: "There is a payment problem with the WhatsApp Business account.",
    131045: "The phone number is not registered with the WhatsApp Cloud API.",
    131047: "The recipient's 24-hour window has closed; send an approved template instead.",
    131051: "WhatsApp does not support this kind of message.",
    131052: "WhatsApp could not download the media the contact sent.",
    131053: "WhatsApp could not upload the attached media.",
    131056: "Too many messages to this recipient in a short time; the hub retries.",
    132000: "The template's parameters do not match the template.",
    132001: "The template does not exist in this language, or is not approved.",
    132005: "The template's text is too long once filled in.",
    132007: "The template breaks WhatsApp's formatting rules.",
    132012: "The template's parameters are not in the expected format.",
    132015: "The template is paused because of its low quality.",
    132016: "The template is disabled because of its low quality.",
    133010: "The phone number is not registered with WhatsApp.",
}


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
        reason=None if code is None else REASONS.get(code),
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
