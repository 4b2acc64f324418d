"""Media files the hub keeps: upload (operators into a conversation, visitors into their
own), the stable link a message carries, and the short-lived signed link it answers with."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from web.operation import (
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    WRITE,
    Answer,
    Fault,
    Operation,
    Param,
    Security,
)

VISITOR: Security = ({"visitorToken": []},)
SIGNED: Security = ()  # the signature in the path is the credential

_BYTES = Annotated[str, Meta(extra_json_schema={"contentMediaType": "application/octet-stream"})]
_MEDIA_ID = Annotated[str, Meta(pattern="^md_[A-Za-z0-9]{1,60}$")]

TOO_LARGE = Fault(
    413,
    "too_large",
    "The file is larger than INVIARO_MEDIA_MAX_BYTES, 16 MiB (`too_large`), or would take the "
    "workspace's files past INVIARO_MEDIA_QUOTA_BYTES, 5 GiB (`quota_exceeded`).",
)
UNSUPPORTED = Fault(
    415,
    "unsupported_media_type",
    "The file's bytes are not an allowed type: images, audio, video, PDF, office documents "
    "and plain text (never HTML, SVG or scripts). The Content-Type sent is not believed.",
)
EMPTY = Fault(400, "empty", "The body is empty.")
VISITOR_REFUSED = Fault(
    403,
    "forbidden",
    "The visitor token is not valid, or was erased (`forbidden`); the workspace asks for "
    "consent and the visitor has not agreed (`consent_required`).",
)
RATE_LIMITED = Fault(
    429, "rate_limited", "Too many files from this uploader or address (INVIARO_LIMIT_UPLOADS)."
)


class StoredFile(msgspec.Struct):
    """A stored file: put its ``id`` in a message's ``attachments`` to send it."""

    id: Annotated[str, Meta(description="The media id (`md_…`).")]
    url: Annotated[str, Meta(description="The stable link messages carry: `/api/files/{id}`.")]
    mime: Annotated[str, Meta(description="The type found in the file's bytes.")]
    name: str
    size: Annotated[int, Meta(ge=1)]
    thumbnail_url: str | None


class FileLink(msgspec.Struct):
    """Signed links to a file (and its thumbnail), valid until ``expires_at``."""

    url: str
    thumbnail_url: str | None
    expires_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


_NAME = Param(
    "name",
    kind=Annotated[str, Meta(max_length=300)],
    description="The file's name as the sender knows it (folders are dropped).",
)
_UPLOAD_ANSWER = {201: Answer("Stored; nothing is sent until a message names it.", StoredFile)}

UPLOAD_FILE = Operation(
    method="post",
    operation_id="uploadFile",
    summary="Upload a file into a conversation (an operator)",
    tags=("conversations",),
    security=WRITE,
    params=(Param("conversation_id", where="path", required=True), _NAME),
    body=_BYTES,
    body_media_types=("application/octet-stream", "image/*", "audio/*", "video/*", "*/*"),
    body_description="The file's bytes, raw (no multipart); its type is read from them.",
    answers=_UPLOAD_ANSWER,
    faults=(EMPTY, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, TOO_LARGE, UNSUPPORTED, RATE_LIMITED),
)

UPLOAD_VISITOR_FILE = Operation(
    method="post",
    operation_id="uploadVisitorFile",
    summary="Upload a file into the visitor's own conversation (the widget)",
    tags=("widget",),
    security=VISITOR,
    params=(_NAME,),
    body=_BYTES,
    body_media_types=("application/octet-stream", "image/*", "audio/*", "video/*", "*/*"),
    body_description="The file's bytes, raw (no multipart); its type is read from them.",
    answers=_UPLOAD_ANSWER,
    faults=(EMPTY, VISITOR_REFUSED, TOO_LARGE, UNSUPPORTED, RATE_LIMITED),
)

_THUMB = Param("thumb", kind=bool, description="The image's thumbnail instead of the file.")

OPEN_FILE = Operation(
    method="get",
    operation_id="openFile",
    summary="Open a file of the workspace: a redirect to a short-lived signed link",
    tags=("conversations",),
    params=(Param("media_id", kind=_MEDIA_ID, where="path", required=True), _THUMB),
    answers={
        303: Answer(
            "See the signed link (valid for INVIARO_MEDIA_LINK_S, 5 minutes).",
            headers={"Location": {"schema": {"type": "string"}}},
        )
    },
    faults=(UNAUTHORIZED, FORBIDDEN, NOT_FOUND),
)

VISITOR_FILE_LINK = Operation(
    method="get",
    operation_id="visitorFileLink",
    summary="Signed links to a file of the visitor's own conversation",
    tags=("widget",),
    security=VISITOR,
    params=(Param("media_id", kind=_MEDIA_ID, where="path", required=True),),
    answers={200: Answer("Links valid for 5 minutes.", FileLink)},
    faults=(VISITOR_REFUSED, NOT_FOUND),
)

SIGNED_FILE = Operation(
    method="get",
    operation_id="signedFile",
    summary="A file's bytes through its signed link",
    description=(
        "Images, audio and video are served inline, everything else as a download; always "
        "under `Content-Security-Policy: sandbox; default-src 'none'`, `nosniff` and "
        "`Cache-Control: private, no-store`."
    ),
    tags=("conversations",),
    security=SIGNED,
    params=(Param("token", where="path", required=True),),
    answers={200: Answer("The file's bytes with its type.", _BYTES, media_type="*/*")},
    faults=(
        Fault(403, "expired", "The link is expired or was never signed by this hub."),
        Fault(404, "not_found", "The file is gone (erased or past retention)."),
    ),
)
