"""The conversations routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.contracts.common import Conversation, Message
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


class ListConversationsReply(msgspec.Struct):
    items: list[Conversation]
    next_cursor: str | None


class PatchConversationBody(msgspec.Struct):
    """What to change in a conversation; a field left out stays as it is."""

    status: Literal["open", "pending", "resolved"] | UnsetType = UNSET
    assignee_id: (
        Annotated[
            str | None,
            Meta(description="Assigning an operator stops the conversation's running flow."),
        ]
        | UnsetType
    ) = UNSET
    tags: (
        Annotated[
            list[Annotated[str, Meta(min_length=1, max_length=50, pattern=r"\S")]],
            Meta(max_length=30),
        ]
        | UnsetType
    ) = UNSET
    team_id: (
        Annotated[str | None, Meta(description="Put it in a team's queue (null: none).")]
        | UnsetType
    ) = UNSET
    snoozed_until: (
        Annotated[
            Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | None,
            Meta(
                description="Snooze until this time (future, within a year): status becomes `pending` and the worker reopens it then; null ends a snooze. A new `status` ends it too."
            ),
        ]
        | UnsetType
    ) = UNSET


class ListMessagesReply(msgspec.Struct):
    items: list[Message]


class NewMessage(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/conversations/{id}/messages``: a reply, or with ``private`` a note."""

    text: Annotated[
        str, Meta(max_length=10_000, description="May be empty when `attachments` are given.")
    ] = ""
    client_id: (
        Annotated[str, Meta(min_length=1, max_length=64, description="Makes a resend idempotent.")]
        | None
    ) = None
    attachments: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=64)]],
        Meta(
            max_length=10,
            description="Ids of files uploaded into this conversation (`POST /api/conversations/{id}/files`).",
        ),
    ] = []
    private: Annotated[
        bool,
        Meta(
            description="A private note for operators only (no channel, no visitor, no reply window)."
        ),
    ] = False
    confirm_objection: Annotated[
        bool,
        Meta(
            description="Send even though the contact objected to being contacted (`processing: objected`)."
        ),
    ] = False


class PostTemplateBody(msgspec.Struct):
    """An approved WhatsApp template, its language and the values of its placeholders."""

    name: Annotated[
        str, Meta(pattern="^[a-z0-9_]{1,512}$", description="The approved template's name.")
    ]
    language: Annotated[
        str,
        Meta(
            pattern="^[a-z]{2,3}(_[A-Z]{2})?$",
            description="The template's language code, e.g. `en_US`, `de`.",
        ),
    ]
    parameters: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=1024)]],
        Meta(max_length=10, description="Values of the body's {{1}}, {{2}}... in order."),
    ] = []
    client_id: (
        Annotated[str, Meta(min_length=1, max_length=64, description="Makes a resend idempotent.")]
        | None
    ) = None
    confirm_objection: Annotated[
        bool,
        Meta(
            description="Send even though the contact objected to being contacted (`processing: objected`)."
        ),
    ] = False


class MarkReadBody(msgspec.Struct):
    """The operator has read the thread up to ``seq``."""

    seq: int


Id = Annotated[str, Meta(max_length=64)]
Cursor = Annotated[str, Meta(max_length=200)]
Seq = Annotated[int, Meta(ge=0, le=2**31 - 1, description="A `seq` (a 32-bit column).")]


# GET /api/conversations
LIST_CONVERSATIONS = Operation(
    method="get",
    operation_id="listConversations",
    summary="List conversations, most recently updated first",
    tags=("conversations",),
    params=(
        Param(
            "status",
            kind=Literal["open", "pending", "resolved"],
            description="Omit for every status.",
        ),
        Param("assignee", kind=Id, description="An operator id, `me` or `none`."),
        Param("team", kind=Id, description="A team id, or `none`."),
        Param("limit", kind=Annotated[int, Meta(ge=1, le=200)], default=50),
        Param("cursor", kind=Cursor, description="next_cursor of the previous page."),
        Param(
            "q",
            description="Search: words in messages (prefixes, all required), the contact's name, email or phone, tags. Best match first; any text is accepted (its first 200 characters are used).",
        ),
        Param("channel", kind=Id, description="A channel id."),
        Param(
            "tag",
            kind=Annotated[str, Meta(max_length=100)],
            description="Conversations carrying this tag.",
        ),
    ),
    answers={200: Answer("A page.", body=ListConversationsReply)},
    faults=(
        Fault(422, "invalid", "A bad query parameter or cursor; `problems` names each."),
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# GET /api/conversations/{id}
GET_CONVERSATION = Operation(
    method="get",
    operation_id="getConversation",
    summary="One conversation",
    tags=("conversations",),
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={200: Answer("The conversation.", body=Conversation)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# PATCH /api/conversations/{id}
PATCH_CONVERSATION = Operation(
    method="patch",
    operation_id="patchConversation",
    summary="Change status, assignee or tags",
    tags=("conversations",),
    security=WRITE,
    body=PatchConversationBody,
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={
        200: Answer(
            "The updated conversation (also sent as a `conversation` frame).", body=Conversation
        )
    },
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# GET /api/conversations/{id}/messages
LIST_MESSAGES = Operation(
    method="get",
    operation_id="listMessages",
    summary="Messages in ascending seq order",
    tags=("conversations",),
    params=(
        Param("id", where="path", description="Conversation id", required=True),
        Param("after_seq", kind=Seq),
        Param(
            "before_seq",
            kind=Seq,
            description="The newest `limit` before it, still ascending.",
        ),
        Param("limit", kind=Annotated[int, Meta(ge=1, le=500)], default=100),
    ),
    answers={200: Answer("Messages.", body=ListMessagesReply)},
    faults=(
        Fault(422, "invalid", "Bad after_seq, before_seq or limit."),
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# POST /api/conversations/{id}/messages
POST_MESSAGE = Operation(
    method="post",
    operation_id="postMessage",
    summary="Send an operator reply (out through the conversation's channel), or a private note",
    tags=("conversations",),
    security=WRITE,
    body=NewMessage,
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={
        201: Answer(
            "The stored message; status `queued` for whatsapp, messenger, instagram and viber (the worker sends it), `sent` otherwise.",
            body=Message,
        ),
        200: Answer("A resend with a client_id already used: the first message.", body=Message),
    },
    faults=(
        Fault(
            422,
            "window_closed",
            "`invalid` (text missing or longer than 10000), or `window_closed`: a WhatsApp, Messenger or Instagram contact last wrote more than 24 hours ago, so a free-form reply is refused (send a template / message tag).",
        ),
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        *BODY_FAULTS,
        Fault(
            409,
            "contact_objected",
            "The contact objected to being contacted and the message does not say `confirm_objection: true`.",
        ),
    ),
)


# POST /api/conversations/{id}/template
POST_TEMPLATE = Operation(
    method="post",
    operation_id="postTemplate",
    summary="Send an approved WhatsApp template message (allowed outside the 24-hour window)",
    tags=("conversations",),
    security=WRITE,
    body=PostTemplateBody,
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={
        201: Answer(
            "The stored message, status `queued` (the worker sends it as a WhatsApp template); its `text` is a readable rendering such as `[template appointment_reminder (en_US): Anna, 10:00]`.",
            body=Message,
        ),
        200: Answer("A resend with a client_id already used: the first message.", body=Message),
    },
    faults=(
        Fault(
            422,
            "invalid",
            "`invalid`: the conversation is not on a WhatsApp channel, or name, language or parameters are malformed (name `^[a-z0-9_]{1,512}$`, language like `en_US` or `de`, up to 10 non-empty parameters of at most 1024 characters).",
        ),
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        *BODY_FAULTS,
        Fault(
            409,
            "contact_objected",
            "The contact objected to being contacted and the message does not say `confirm_objection: true`.",
        ),
    ),
)


# POST /api/conversations/{id}/read
MARK_READ = Operation(
    method="post",
    operation_id="markRead",
    summary="Mark the thread read up to seq (unread counts)",
    tags=("conversations",),
    security=WRITE,
    body=MarkReadBody,
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# GET /api/media/{channel_id}/{media_id}
WHATSAPP_MEDIA = Operation(
    method="get",
    operation_id="whatsappMedia",
    summary="Download a WhatsApp media file (authenticated proxy)",
    tags=("conversations",),
    params=(
        Param("channel_id", where="path", required=True),
        Param(
            "media_id",
            kind=Annotated[str, Meta(pattern="^[A-Za-z0-9_.-]{1,128}$")],
            where="path",
            required=True,
        ),
    ),
    answers={
        200: Answer(
            "The file's bytes with its MIME type; non-media types are served as attachments under CSP sandbox.",
            body=Annotated[
                str, Meta(extra_json_schema={"contentMediaType": "application/octet-stream"})
            ],
            media_type="*/*",
        )
    },
    faults=(
        Fault(
            503, "unavailable", "WhatsApp did not answer, or the channel's token cannot be read."
        ),
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# POST /api/conversations/{id}/messages/{message_id}/retry
RETRY_MESSAGE = Operation(
    method="post",
    operation_id="retryMessage",
    summary="Send a failed reply again",
    tags=("conversations",),
    security=WRITE,
    params=(
        Param("id", where="path", description="Conversation id", required=True),
        Param("message_id", where="path", description="Message id", required=True),
    ),
    answers={202: Answer("The message, `queued` again for the worker.", body=Message)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(409, "not_retryable", "Only a failed reply to a channel can be sent again."),
        Fault(422, "window_closed", "The 24-hour window has closed: send a template instead."),
    ),
)
