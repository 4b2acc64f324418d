"""Your own account: your name, your signed-in browsers and your notification preferences."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from web.contracts.common import Operator
from web.operation import (
    BODY_FAULTS,
    BROWSER_WRITE,
    FORBIDDEN,
    UNAUTHORIZED,
    WRITE,
    Answer,
    Fault,
    Operation,
    Param,
)


class ProfilePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]


class SessionOut(msgspec.Struct):
    id: str
    created_at: str
    last_seen_at: str
    ip: str | None
    current: bool


class NotificationPrefs(msgspec.Struct, forbid_unknown_fields=True):
    """The request body: a PUT replaces every preference; one left out is reset to its default."""

    new_conversations: bool = True
    assigned: bool = True
    mentions: bool = True
    sound: bool = True


# The answer names every preference: the body's fields, each required (one model to change).
NotificationPrefsReply = msgspec.defstruct(
    "NotificationPrefsReply",
    [(f.name, f.type) for f in msgspec.structs.fields(NotificationPrefs)],
    namespace={"__doc__": "Every preference, as stored over the defaults."},
)


class ListMySessionsReply(msgspec.Struct):
    items: list[SessionOut]
    next_cursor: str | None


class EndOtherSessionsReply(msgspec.Struct):
    ended: int


# PATCH /api/me
PATCH_ME = Operation(
    method="patch",
    operation_id="patchMe",
    summary="Rename yourself (any role)",
    tags=("account",),
    security=WRITE,
    body=ProfilePatch,
    answers={200: Answer("Your operator record.", body=Operator)},
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (`csrf`), or a session is needed (`session_required`).",
        ),
        Fault(
            422, "invalid", "A field is missing or invalid; `problems` lists every field's problem."
        ),
    ),
)


# GET /api/me/sessions
LIST_MY_SESSIONS = Operation(
    method="get",
    operation_id="listMySessions",
    summary="The browsers signed in as you (`current` marks this one)",
    tags=("account",),
    security=WRITE,
    answers={200: Answer("`{items: [session]}`", body=ListMySessionsReply)},
    faults=(UNAUTHORIZED,),
)


# POST /api/me/sessions/end-others
END_OTHER_SESSIONS = Operation(
    method="post",
    operation_id="endOtherSessions",
    summary="Sign out everywhere else (their sockets close; API tokens keep working)",
    tags=("account",),
    security=BROWSER_WRITE,
    answers={200: Answer("`{ended}`: how many sessions ended.", body=EndOtherSessionsReply)},
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (`csrf`), or a session is needed (`session_required`).",
        ),
    ),
)


# DELETE /api/me/sessions/{session_id}
END_MY_SESSION = Operation(
    method="delete",
    operation_id="endMySession",
    summary="End one of your sessions",
    tags=("account",),
    security=WRITE,
    params=(Param("session_id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (`csrf`), or a session is needed (`session_required`).",
        ),
        Fault(404, "not_found", "No such session of yours."),
    ),
)


# GET /api/me/notifications
GET_NOTIFICATION_PREFS = Operation(
    method="get",
    operation_id="getNotificationPrefs",
    summary="Your notification preferences (stored on the server, the same in every browser)",
    tags=("account",),
    answers={200: Answer("The operator's notification preferences.", body=NotificationPrefsReply)},
    faults=(UNAUTHORIZED,),
)


# PUT /api/me/notifications
PUT_NOTIFICATION_PREFS = Operation(
    method="put",
    operation_id="putNotificationPrefs",
    summary="Change your notification preferences (fields left out are reset to their default, true)",
    tags=("account",),
    security=WRITE,
    body=NotificationPrefs,
    answers={200: Answer("The operator's notification preferences.", body=NotificationPrefsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is invalid; `problems` lists each one."),
    ),
)


AvatarImage = Annotated[
    str,
    Meta(
        description="The image's bytes (PNG, JPEG or WebP, recognised by their first bytes; at most 256 KB).",
        extra_json_schema={"format": "binary"},
    ),
]
NOT_FOUND_AVATAR = Fault(
    404, "not_found", "No such operator in your workspace, or they have no picture."
)

# PUT /api/me/avatar
PUT_MY_AVATAR = Operation(
    method="put",
    operation_id="putMyAvatar",
    summary="Set your picture: the image's bytes as the body (PNG, JPEG or WebP, at most 256 KB)",
    tags=("account",),
    security=WRITE,
    body=AvatarImage,
    body_media_types=("image/png", "image/jpeg", "image/webp"),
    answers={200: Answer("Your operator record, with its new `avatar_url`.", body=Operator)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(413, "too_large", "The picture is larger than 256 KB; nothing is stored."),
        Fault(
            415,
            "unsupported_media_type",
            "The body is not a PNG, JPEG or WebP image (whatever its Content-Type); nothing is stored.",
        ),
    ),
)


# DELETE /api/me/avatar
DELETE_MY_AVATAR = Operation(
    method="delete",
    operation_id="deleteMyAvatar",
    summary="Remove your picture (your initials are shown again)",
    tags=("account",),
    security=WRITE,
    answers={204: Answer("Done; no body.")},
    faults=(UNAUTHORIZED, FORBIDDEN),
)


# GET /api/operators/{operator_id}/avatar
GET_AVATAR = Operation(
    method="get",
    operation_id="getAvatar",
    summary="An operator's picture, for the operators of the same workspace",
    tags=("account",),
    description="Served with `X-Content-Type-Options: nosniff` and `Content-Security-Policy: default-src 'none'; sandbox`; cacheable privately (the `avatar_url` changes with the picture).",
    params=(Param("operator_id", where="path", required=True),),
    answers={
        200: Answer(
            "The image.",
            body=Annotated[str, Meta(extra_json_schema={"format": "binary"})],
            media_type="image/*",
        )
    },
    faults=(UNAUTHORIZED, NOT_FOUND_AVATAR),
)
