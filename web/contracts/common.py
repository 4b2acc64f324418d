"""Bodies more than one area of the API shares."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType


class Operator(msgspec.Struct):
    id: str
    name: str
    email: Annotated[str, Meta(extra_json_schema={"format": "email"})]
    role: Literal["owner", "admin", "agent"]
    disabled: bool
    totp_enabled: bool
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    avatar_url: (
        Annotated[
            str | None,
            Meta(
                description="The operator's picture (same workspace only), versioned; null: none, show initials."
            ),
        ]
        | UnsetType
    ) = UNSET


class WorkspaceAiProvider(msgspec.Struct):
    host: str
    model: str
    region: str | None


class Workspace(msgspec.Struct):
    id: str
    name: str
    retention_days: Annotated[int, Meta(ge=1, le=36500)] | None
    allowed_origins: list[str]
    business_hours: dict[str, Any] | None
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    require_2fa: bool | UnsetType = UNSET
    ai_enabled: (
        Annotated[
            bool,
            Meta(
                description="AI on for this workspace (and the server names a provider). False by default."
            ),
        ]
        | UnsetType
    ) = UNSET
    ai_monthly_tokens: (
        Annotated[
            Annotated[int, Meta(ge=0)] | None,
            Meta(description="Tokens AI calls may use per calendar month (UTC); null: no limit."),
        ]
        | UnsetType
    ) = UNSET
    csat_enabled: (
        Annotated[
            bool,
            Meta(
                description="Contacts are asked to rate a resolved conversation (1-5). True by default."
            ),
        ]
        | UnsetType
    ) = UNSET
    ai_provider: (
        Annotated[
            WorkspaceAiProvider | None,
            Meta(
                description="Where AI data would go (GET/PATCH /api/workspace only); null when the server names no provider."
            ),
        ]
        | UnsetType
    ) = UNSET


ChannelKind = Literal["widget", "whatsapp", "messenger", "instagram", "viber", "custom"]


class ConversationChannel(msgspec.Struct):
    id: str
    kind: ChannelKind
    name: str | None


class ConversationContact(msgspec.Struct):
    id: str
    name: str | None


class Author(msgspec.Struct):
    kind: Literal["contact", "operator", "bot", "system"]
    id: str | None
    name: str | None


class Attachment(msgspec.Struct):
    url: str | None
    mime: str | None
    name: str | None
    size: int | None
    media_id: (
        Annotated[
            str,
            Meta(
                description="A file the hub keeps: `url` (`/api/files/{media_id}`) answers with a short-lived signed link to it."
            ),
        ]
        | UnsetType
    ) = UNSET
    thumbnail_url: (
        Annotated[str, Meta(description="An image's preview, like `url` (null: none).")]
        | UnsetType
        | None
    ) = UNSET


class MessageOptionsItem(msgspec.Struct):
    label: str
    value: str


class SendError(msgspec.Struct):
    code: Annotated[
        str,
        Meta(
            description="The provider's error code (`190`, `131047`, Viber `6`) or ours (`channel_deleted`, `no_recipient`, `channel_config`, `unsupported`, `provider_error`, `provider_failed`)."
        ),
    ]
    detail: Annotated[str, Meta(description="What it means, in a sentence for people.")]


class Message(msgspec.Struct):
    id: str
    conversation_id: str
    seq: Annotated[int, Meta(ge=1, description="Starts at 1 in each conversation, no gaps.")]
    direction: Literal["in", "out"]
    author: Author
    text: str
    attachments: list[Attachment]
    status: Literal["received", "queued", "sending", "sent", "delivered", "read", "failed"]
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    client_id: str | None
    private: Annotated[
        bool,
        Meta(
            description="A private note: operators only, never sent through a channel or to the visitor."
        ),
    ]
    error: Annotated[
        SendError | None,
        Meta(
            description="Why it failed (`failed`), or why the last attempt did while it is `queued` again."
        ),
    ]
    attempts: Annotated[int, Meta(ge=0, description="Send attempts so far.")]
    next_attempt_at: Annotated[
        Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | None,
        Meta(description="While retrying: when the next attempt is."),
    ]
    sent_at: (
        Annotated[
            str,
            Meta(
                extra_json_schema={"format": "date-time"},
                description="When the sender's system says it sent the message (a provider's timestamp, or the ingest API's `sent_at`); only when it said. `created_at` is when the hub stored it.",
            ),
        ]
        | UnsetType
    ) = UNSET
    options: (
        Annotated[
            list[MessageOptionsItem],
            Meta(description="A flow's choice offered to the contact (only when it offers one)."),
        ]
        | UnsetType
    ) = UNSET
    option: (
        Annotated[
            str,
            Meta(
                description="The value of the option the contact tapped (only on such a message)."
            ),
        ]
        | UnsetType
    ) = UNSET


class Conversation(msgspec.Struct):
    id: str
    channel: ConversationChannel
    contact: ConversationContact
    status: Literal["open", "pending", "resolved"]
    assignee_id: str | None
    tags: list[str]
    last_seq: int
    last_message: Message | None
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    updated_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    unread: Annotated[int, Meta(description="Messages after the operators' read position.")]
    team_id: Annotated[str | None, Meta(description="The team whose queue holds it.")]
    snoozed_until: Annotated[
        Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | None,
        Meta(description="Snoozed: `pending` until then; the worker reopens it."),
    ]


class ConsentRecord(msgspec.Struct):
    granted: bool
    version: int
    text: Annotated[str, Meta(description="The text as shown.")]
    source: Literal["visitor", "operator"]
    at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    operator_id: str | UnsetType | None = UNSET
