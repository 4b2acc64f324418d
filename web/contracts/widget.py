"""The widget routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from web.contracts.common import ConsentRecord
from web.operation import BODY_FAULTS, PUBLIC, Answer, Fault, Operation, Param


class WidgetSessionConsent(msgspec.Struct):
    text: str | None
    version: int
    granted: bool


class WidgetSession(msgspec.Struct):
    visitor_token: Annotated[
        str,
        Meta(
            description="Send it back to continue the conversation; valid for INVIARO_VISITOR_TOKEN_DAYS (30) days from its issue, after which a session starts afresh."
        ),
    ]
    conversation_id: str
    ws_url: Annotated[
        str,
        Meta(
            description="The full ws(s)://…/ws/widget?token=… URL, opened as is; its token is a connect ticket valid for 60 seconds (ask for a new session before every reconnect), not the visitor token."
        ),
    ]
    title: str | None
    color: str | None
    consent: Annotated[
        WidgetSessionConsent,
        Meta(
            description="The workspace's consent question: `text` (null when it asks nothing), its `version`, and whether this visitor agreed to exactly that version (`granted`). The widget asks before chatting when `text` is set and `granted` is false."
        ),
    ]


class WidgetSessionBody(msgspec.Struct):
    """The widget's key, and what it remembers of this visitor."""

    key: Annotated[str, Meta(min_length=1, max_length=100, description="The channel's public_key.")]
    visitor_token: (
        Annotated[str, Meta(max_length=1000, description="Resume this visitor's conversation.")]
        | None
    ) = None
    user_id: Annotated[str, Meta(max_length=150)] | None = None
    user_hash: (
        Annotated[
            str, Meta(max_length=128, description="hex HMAC-SHA256(identity_secret, user_id)")
        ]
        | None
    ) = None


class AnswerConsentBody(msgspec.Struct):
    """A visitor's answer; agreeing names the version of the text agreed to."""

    visitor_token: Annotated[str, Meta(min_length=1, max_length=1000)]
    granted: bool
    version: int | None = None


# POST /api/widget/sessions
WIDGET_SESSION = Operation(
    method="post",
    operation_id="widgetSession",
    summary="Open or resume a website visitor's session",
    tags=("widget",),
    security=PUBLIC,
    body=WidgetSessionBody,
    params=(
        Param("Origin", where="header", description="The embedding page's origin.", required=True),
    ),
    answers={201: Answer("The visitor token and the socket URL.", body=WidgetSession)},
    faults=(
        Fault(
            403,
            "origin_not_allowed",
            "`origin_not_allowed` (Origin not in allowed_origins), `forbidden` (bad token), `identity_invalid` or `verification_required`.",
        ),
        Fault(404, "not_found", "No active widget channel has this key."),
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# GET /widget.js
WIDGET_JS = Operation(
    method="get",
    operation_id="widgetJs",
    summary="The embeddable widget script",
    tags=("widget",),
    security=PUBLIC,
    answers={
        200: Answer(
            "JavaScript (ETag, Cache-Control: public, max-age=300).",
            body=str,
            media_type="application/javascript",
        ),
        304: Answer("Not modified (If-None-Match)."),
    },
)


# HEAD /widget.js
WIDGET_JS_HEAD = Operation(
    method="head",
    operation_id="widgetJsHead",
    summary="Headers of the widget script",
    tags=("widget",),
    security=PUBLIC,
    answers={200: Answer("Headers only."), 304: Answer("Not modified.")},
)


# GET /widget/try
GET_WIDGET_TRY = Operation(
    method="get",
    operation_id="getWidgetTry",
    summary="A preview page of the hub's own that embeds a widget channel",
    tags=("widget",),
    security=PUBLIC,
    description="For trying a widget channel before putting the tag on a website. The hub's own origin is always allowed to open widget sessions.",
    params=(Param("key", description="The widget channel's public_key.", required=True),),
    answers={
        200: Answer(
            "An HTML page embedding /widget.js with that key.", body=str, media_type="text/html"
        )
    },
)


# POST /api/widget/consent
ANSWER_CONSENT = Operation(
    method="post",
    operation_id="answerConsent",
    summary="A visitor's consent answer: agree (naming the version), refuse or withdraw",
    tags=("widget",),
    security=PUBLIC,
    body=AnswerConsentBody,
    answers={201: Answer("The answer as recorded.", body=ConsentRecord)},
    faults=(
        Fault(403, "forbidden", "A forged token, or an erased visitor."),
        Fault(409, "consent_outdated", "A yes to a text that is no longer the current one."),
        Fault(422, "invalid", "Invalid fields; the detail names the field."),
    ),
)
