"""The channels routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.contracts.common import ChannelKind
from web.operation import (
    BODY_FAULTS,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    WRITE,
    Answer,
    Fault,
    Operation,
    Param,
)


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
    next_cursor: str | None


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


Secret = Annotated[
    str, Meta(min_length=1, max_length=4096, pattern=r"\S", extra_json_schema={"writeOnly": True})
]
ProviderId = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"\S")]


class WidgetConfig(msgspec.Struct):
    """The website chat: where it may be embedded, and how it looks."""

    allowed_origins: Annotated[
        list[Annotated[str, Meta(max_length=300)]],
        Meta(max_length=100, description="Origins such as https://example.com."),
    ]
    title: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    color: Annotated[str, Meta(pattern="^#[0-9a-fA-F]{6}$")] | None = None
    require_verification: bool | None = None
    identity_secret: (
        Annotated[Secret, Meta(description="Key of the visitor identity HMAC (user_hash).")] | None
    ) = None


class WhatsAppConfig(msgspec.Struct):
    """A WhatsApp Business number of the Cloud API."""

    phone_number_id: ProviderId
    access_token: Secret
    app_secret: Secret
    verify_token: Secret


class MessengerConfig(msgspec.Struct):
    """A Facebook page's Messenger."""

    page_id: ProviderId
    access_token: Secret
    app_secret: Secret
    verify_token: Secret


class InstagramConfig(msgspec.Struct):
    """An Instagram professional account's messages."""

    account_id: ProviderId
    access_token: Secret
    app_secret: Secret
    verify_token: Secret


class ViberConfig(msgspec.Struct):
    """A Viber bot."""

    auth_token: Secret
    sender_name: Annotated[str, Meta(min_length=1, max_length=28)] | None = None


class CustomConfig(msgspec.Struct):
    """A custom channel needs no settings: its adapter pushes through the ingest API."""


# Each kind's config, and which of its fields are secrets (sealed, never read back).
CONFIGS: dict[str, type[msgspec.Struct]] = {
    "widget": WidgetConfig,
    "whatsapp": WhatsAppConfig,
    "messenger": MessengerConfig,
    "instagram": InstagramConfig,
    "viber": ViberConfig,
    "custom": CustomConfig,
}
SECRETS = frozenset({"identity_secret", "access_token", "app_secret", "verify_token", "auth_token"})


class ChannelCreate(msgspec.Struct):
    """A channel to connect: its kind, a name, and the kind's config."""

    kind: ChannelKind
    name: (
        Annotated[str, Meta(min_length=1, max_length=200, description="Defaults to the kind.")]
        | None
    ) = None
    config: Annotated[
        Any,
        Meta(
            description="The config of the channel's kind (its fields are checked per kind).",
            extra_json_schema={
                "anyOf": [
                    {"$ref": "#/components/schemas/WidgetConfig"},
                    {"$ref": "#/components/schemas/WhatsAppConfig"},
                    {"$ref": "#/components/schemas/MessengerConfig"},
                    {"$ref": "#/components/schemas/InstagramConfig"},
                    {"$ref": "#/components/schemas/ViberConfig"},
                    {"$ref": "#/components/schemas/CustomConfig"},
                    {"type": "null"},
                ]
            },
        ),
    ] = None


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
        UNAUTHORIZED,
        FORBIDDEN,
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
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
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
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
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
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
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
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)
