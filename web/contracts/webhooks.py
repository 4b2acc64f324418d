"""The webhooks routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from web.operation import PUBLIC, Answer, Fault, Operation, Param


class WebhookOk(msgspec.Struct):
    ok: Literal[True]


# GET /webhooks/meta/{channel_id}
META_VERIFY = Operation(
    method="get",
    operation_id="metaVerify",
    summary="Meta's subscription handshake",
    tags=("webhooks",),
    security=PUBLIC,
    params=(
        Param("channel_id", where="path", required=True),
        Param("hub.mode", kind=Literal["subscribe"], required=True),
        Param("hub.verify_token", required=True),
        Param("hub.challenge", required=True),
    ),
    answers={200: Answer("hub.challenge echoed as the body.", body=str, media_type="text/plain")},
    faults=(
        Fault(403, "forbidden", "hub.mode is not subscribe or hub.verify_token does not match."),
        Fault(404, "not_found", "No such WhatsApp, Messenger or Instagram channel."),
    ),
)


# POST /webhooks/meta/{channel_id}
META_EVENT = Operation(
    method="post",
    operation_id="metaEvent",
    summary="WhatsApp Cloud API, Messenger and Instagram events",
    tags=("webhooks",),
    security=PUBLIC,
    description="Handles every entry/change/messaging item of a batch: messages (text, media, location, contacts, interactive, button, reaction…), WhatsApp statuses, Messenger/Instagram delivery, read and echo events. See docs/channels.md.",
    body=dict[str, Any],
    body_description="The provider's own payload, byte for byte (signed over the raw body).",
    params=(
        Param("channel_id", where="path", required=True),
        Param(
            "X-Hub-Signature-256",
            kind=Annotated[str, Meta(pattern="^sha256=[0-9a-f]{64}$")],
            where="header",
            description="sha256=<hex HMAC-SHA256 of the raw body keyed with the app secret>",
            required=True,
        ),
    ),
    answers={200: Answer("Every event stored (redeliveries are stored once).", body=WebhookOk)},
    faults=(
        Fault(400, "bad_payload", "The payload is not the provider's documented shape."),
        Fault(401, "unauthorized", "A bad or missing signature; nothing is stored."),
        Fault(404, "not_found", "No such Meta channel (or it was deleted)."),
        Fault(413, "too_large", "The body is larger than 4 MiB."),
        Fault(503, "unavailable", "Storage failed; the provider redelivers."),
    ),
)


# POST /webhooks/viber/{channel_id}
VIBER_EVENT = Operation(
    method="post",
    operation_id="viberEvent",
    summary="Viber REST bot API callbacks",
    tags=("webhooks",),
    security=PUBLIC,
    body=dict[str, Any],
    body_description="The provider's own payload, byte for byte (signed over the raw body).",
    params=(
        Param("channel_id", where="path", required=True),
        Param(
            "X-Viber-Content-Signature",
            kind=Annotated[str, Meta(pattern="^[0-9a-f]{64}$")],
            where="header",
            description="hex HMAC-SHA256 of the raw body keyed with the auth token",
            required=True,
        ),
    ),
    answers={200: Answer("Every event stored (redeliveries are stored once).", body=WebhookOk)},
    faults=(
        Fault(400, "bad_payload", "The payload is not the provider's documented shape."),
        Fault(401, "unauthorized", "A bad or missing signature; nothing is stored."),
        Fault(404, "not_found", "No such Viber channel (or it was deleted)."),
        Fault(413, "too_large", "The body is larger than 4 MiB."),
        Fault(503, "unavailable", "Storage failed; the provider redelivers."),
    ),
)
