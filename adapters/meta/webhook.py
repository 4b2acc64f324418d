"""Meta's webhook mechanics, shared by WhatsApp, Messenger and Instagram: the GET
handshake, the ``X-Hub-Signature-256`` check, the envelope, and the small parsing helpers
both payload families use."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from adapters.base import (
    PayloadError,
    as_dict,
    header,
    hmac_sha256_hex_matches,
    load_json_object,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"


def verify_challenge(query: Mapping[str, str], verify_token: str) -> str | None:
    """The GET handshake: the ``hub.challenge`` to answer with 200, or None for a 403."""
    if query.get("hub.mode") != "subscribe":
        return None
    offered = query.get("hub.verify_token")
    challenge = query.get("hub.challenge")
    if offered is None or challenge is None or not verify_token:
        return None
    if not hmac.compare_digest(offered.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    return challenge


def verify_signature(headers: Mapping[str, str], body: bytes, app_secret: str) -> bool:
    """``X-Hub-Signature-256`` over the raw body; False for a missing or malformed header."""
    value = header(headers, SIGNATURE_HEADER)
    if not value or not app_secret or not value.startswith("sha256="):
        return False
    return hmac_sha256_hex_matches(app_secret, body, value.removeprefix("sha256="))


def roots(body: bytes, expected_object: str) -> list[dict[str, Any]]:
    data = load_json_object(body)
    # Meta's Instagram examples print the payload inside an array; accept that too.
    items = data if isinstance(data, list) else [data]
    roots = []
    for item in items:
        root = as_dict(item, "payload")
        if root.get("object") != expected_object:
            raise PayloadError(f"expected object {expected_object!r}, got {root.get('object')!r}")
        roots.append(root)
    return roots


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{where} must be a number")
    return value


def reaction_text(emoji: str | None, target: str) -> str:
    return f"[reaction {emoji} to {target}]" if emoji else f"[reaction removed from {target}]"
