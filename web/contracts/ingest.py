"""The ingest routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from web.operation import INGEST, Answer, Fault, Operation, Param

MAX_MESSAGES = 1000

Id = Annotated[str, msgspec.Meta(max_length=200)] | int  # provider ids are often numbers


class IngestContact(msgspec.Struct):
    """The sender, by its id in the adapter's system; a contact is created on first sight."""

    external_id: Id
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class IngestAttachment(msgspec.Struct):
    url: str
    mime: Any = None  # a string, else ignored
    name: Any = None
    size: Annotated[int, msgspec.Meta(ge=0)] | None = None  # bytes


class IngestItem(msgspec.Struct):
    """One message; ``external_id`` is its id in the adapter's system (idempotency key)."""

    external_id: Id
    contact: IngestContact
    text: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    attachments: Annotated[list[IngestAttachment], msgspec.Meta(max_length=20)] = []
    sent_at: (
        Annotated[str, Meta(description="When your system says it was sent (RFC 3339).")] | None
    ) = None


class IngestRequest(msgspec.Struct):
    """Up to 1000 messages, all validated before any is stored."""

    messages: Annotated[list[IngestItem], msgspec.Meta(min_length=1, max_length=MAX_MESSAGES)]


class IngestAccepted(msgspec.Struct):
    external_id: str
    message_id: str
    conversation_id: str
    seq: int


class IngestResponse(msgspec.Struct):
    """202: every message is durably stored (or was already)."""

    accepted: list[IngestAccepted]


# POST /api/ingest/{channel_id}
INGEST_MESSAGES = Operation(
    method="post",
    operation_id="ingest",
    summary="Push messages in from a custom adapter",
    tags=("ingest",),
    security=INGEST,
    description="Everything in a request is validated before anything is stored. Up to 1000 messages per request.",
    body=IngestRequest,
    body_media_types=("application/json", "application/msgpack"),
    params=(Param("channel_id", where="path", required=True),),
    answers={
        202: Answer(
            "Every message in the request is durably stored (redelivered external_ids answer with the stored message).",
            body=IngestResponse,
            example={
                "accepted": [
                    {
                        "external_id": "m-1",
                        "message_id": "ms_…",
                        "conversation_id": "cv_…",
                        "seq": 1,
                    }
                ]
            },
        )
    },
    faults=(
        Fault(400, "bad_body", "The body is not valid JSON / msgpack."),
        Fault(401, "unauthorized", "Missing or wrong ingest token, or not a live custom channel."),
        Fault(413, "too_large", "The body is larger than 4 MiB."),
        Fault(415, "unsupported_media_type", "Neither application/json nor application/msgpack."),
        Fault(
            422,
            "invalid",
            "A field is missing or invalid; `detail` names it (nothing in the request is stored).",
        ),
        Fault(503, "unavailable", "Storage failed; retry the same request."),
    ),
)
