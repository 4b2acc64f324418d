"""The channels routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.contracts.common import ChannelKind
from web.operation import WRITE, Answer, Fault, Operation, Param


class Channel(msgspec.Struct):
    id: str
    kind: ChannelKind
    name: str
    config: Annotated[dict[str, Any], Meta(description="The readable settings (never secrets).")]
    secrets_set: Annotated[
        list[str], Meta(description="Names of the secrets stored; their values are write-only.")
    ]
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    webhook_url: (
        Annotated[
            str,
            Meta(
                extra_json_schema={"format": "uri"},
                description="whatsapp, messenger, instagram and viber: paste this at the provider. Starts with INVIARO_PUBLIC_URL.",
            ),
        ]
        | UnsetType
    ) = UNSET
    public_key: (
        Annotated[str, Meta(description="widget: the data-inviaro-key of the embed tag.")]
        | UnsetType
    ) = UNSET


class ListChannelsReply(msgspec.Struct):
    items: list[Channel]
    next_cursor: str | UnsetType | None = UNSET


ChannelCreated = Annotated[
    Any,
    Meta(
        extra_json_schema={
            "allOf": [
                {"$ref": "#/components/schemas/Channel"},
                {
                    "type": "object",
                    "properties": {
                        "ingest_token": {
                            "type": "string",
                            "description": "custom only: the Bearer token of POST /api/ingest/{channel_id}; shown once.",
                        },
                        "webhook_registered": {
                            "type": "boolean",
                            "description": "viber only: whether set_webhook succeeded at creation (retry with register-webhook).",
                        },
                    },
                },
            ]
        }
    ),
]


class MessengerConfig(msgspec.Struct):
    page_id: str
    access_token: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]
    app_secret: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]
    verify_token: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]


class WidgetConfig(msgspec.Struct):
    allowed_origins: list[str]
    title: Annotated[str, Meta(max_length=100)] | UnsetType = UNSET
    color: Annotated[str, Meta(pattern="^#[0-9a-fA-F]{6}$")] | UnsetType = UNSET
    require_verification: bool | UnsetType = UNSET
    identity_secret: (
        Annotated[
            str,
            Meta(
                extra_json_schema={"writeOnly": True},
                description="Key of the visitor identity HMAC (user_hash).",
            ),
        ]
        | UnsetType
    ) = UNSET


class CustomConfig(msgspec.Struct):
    """A custom channel needs no settings: its adapter pushes through the ingest API."""


class InstagramConfig(msgspec.Struct):
    account_id: str
    access_token: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]
    app_secret: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]
    verify_token: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]


class WhatsAppConfig(msgspec.Struct):
    phone_number_id: str
    access_token: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]
    app_secret: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]
    verify_token: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]


class ViberConfig(msgspec.Struct):
    auth_token: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]


class ChannelCreate(msgspec.Struct):
    kind: ChannelKind
    name: Annotated[str, Meta(max_length=200, description="Defaults to the kind.")] | UnsetType = (
        UNSET
    )
    config: (
        Annotated[
            Any,
            Meta(
                extra_json_schema={
                    "oneOf": [
                        {"$ref": "#/components/schemas/WidgetConfig"},
                        {"$ref": "#/components/schemas/WhatsAppConfig"},
                        {"$ref": "#/components/schemas/MessengerConfig"},
                        {"$ref": "#/components/schemas/InstagramConfig"},
                        {"$ref": "#/components/schemas/ViberConfig"},
                        {"$ref": "#/components/schemas/CustomConfig"},
                    ]
                }
            ),
        ]
        | UnsetType
    ) = UNSET


class RegisterWebhookReply(msgspec.Struct):
    webhook_url: str
    event_types: list[str]


# GET /api/channels
LIST_CHANNELS = Operation(
    method="get",
    operation_id="listChannels",
    summary="List channels",
    tags=("channels",),
    answers={200: Answer("Channels (secrets never included).", body=ListChannelsReply)},
    faults=(
        Fault(401, "unauthorized", "Missing, wrong, expired or revoked credentials."),
        Fault(
            403,
            "csrf",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role that may not do this (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
    ),
)


# POST /api/channels
CREATE_CHANNEL = Operation(
    method="post",
    operation_id="createChannel",
    summary="Create a channel (owners and admins)",
    tags=("channels",),
    security=WRITE,
    description="Secret config fields (access_token, app_secret, verify_token, auth_token, identity_secret) are encrypted and never returned; unknown config fields are dropped. Creating a viber channel calls Viber's set_webhook.",
    body=ChannelCreate,
    answers={
        201: Answer(
            "The channel, with its webhook_url, public_key or ingest_token.", body=ChannelCreated
        )
    },
    faults=(
        Fault(401, "unauthorized", "Missing, wrong, expired or revoked credentials."),
        Fault(
            403,
            "csrf",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role that may not do this (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(400, "bad_json", "The body is not valid JSON or not a JSON object."),
        Fault(413, "too_large", "The body is larger than 1 MiB."),
        Fault(415, "unsupported_media_type", "The Content-Type is not JSON."),
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# GET /api/channels/{channel_id}
GET_CHANNEL = Operation(
    method="get",
    operation_id="getChannel",
    summary="One channel",
    tags=("channels",),
    params=(Param("channel_id", where="path", required=True),),
    answers={200: Answer("The channel.", body=Channel)},
    faults=(
        Fault(401, "unauthorized", "Missing, wrong, expired or revoked credentials."),
        Fault(
            403,
            "csrf",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role that may not do this (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(
            404,
            "not_found",
            "No such resource in your workspace (another workspace's resources answer 404 too).",
        ),
    ),
)


# DELETE /api/channels/{channel_id}
DELETE_CHANNEL = Operation(
    method="delete",
    operation_id="deleteChannel",
    summary="Delete (disable) a channel (owners and admins)",
    tags=("channels",),
    security=WRITE,
    description="Its webhooks, widget key and ingest token stop working; its conversations stay.",
    params=(Param("channel_id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        Fault(401, "unauthorized", "Missing, wrong, expired or revoked credentials."),
        Fault(
            403,
            "csrf",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role that may not do this (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(
            404,
            "not_found",
            "No such resource in your workspace (another workspace's resources answer 404 too).",
        ),
    ),
)


# POST /api/channels/{channel_id}/register-webhook
REGISTER_WEBHOOK = Operation(
    method="post",
    operation_id="registerWebhook",
    summary="(Re)register the Viber webhook (owners and admins)",
    tags=("channels",),
    security=WRITE,
    params=(Param("channel_id", where="path", required=True),),
    answers={200: Answer("Registered.", body=RegisterWebhookReply)},
    faults=(
        Fault(
            422, "invalid", "Not a Viber channel (Meta webhooks are pasted in the App Dashboard)."
        ),
        Fault(502, "provider_error", "Viber refused set_webhook."),
        Fault(401, "unauthorized", "Missing, wrong, expired or revoked credentials."),
        Fault(
            403,
            "csrf",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role that may not do this (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(
            404,
            "not_found",
            "No such resource in your workspace (another workspace's resources answer 404 too).",
        ),
    ),
)
