"""The ingest routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.operation import INGEST, Answer, Fault, Operation, Param


class IngestAcceptedAcceptedItem(msgspec.Struct):
    external_id: str
    message_id: str
    conversation_id: str
    seq: int


class IngestAccepted(msgspec.Struct):
    accepted: list[IngestAcceptedAcceptedItem]


class IngestRequestMessagesItemContact(msgspec.Struct):
    external_id: Annotated[
        Any, Meta(extra_json_schema={"type": ["string", "integer"], "maxLength": 200})
    ]
    name: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET


class IngestRequestMessagesItemAttachmentsItem(msgspec.Struct):
    url: str
    mime: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    size: Annotated[int, Meta(ge=0)] | UnsetType = UNSET


class IngestRequestMessagesItem(msgspec.Struct):
    external_id: Annotated[
        Any,
        Meta(
            extra_json_schema={"type": ["string", "integer"]},
            description="Your message id; a message with an id already stored is not stored again.",
        ),
    ]
    contact: IngestRequestMessagesItemContact
    text: Annotated[str, Meta(max_length=10000)] | UnsetType = UNSET
    attachments: (
        Annotated[list[IngestRequestMessagesItemAttachmentsItem], Meta(max_length=20)] | UnsetType
    ) = UNSET
    sent_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType = UNSET


class IngestRequest(msgspec.Struct):
    messages: Annotated[list[IngestRequestMessagesItem], Meta(min_length=1, max_length=1000)]


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
            body=IngestAccepted,
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
