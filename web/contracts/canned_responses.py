"""The canned_responses routes: their bodies and their declarations."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

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

MAX_TEXT = 10_000
Shortcut = Annotated[str, Meta(min_length=1, max_length=50, pattern=r"^[\w-]+$")]
Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)]


class NewCanned(msgspec.Struct, forbid_unknown_fields=True):
    """A saved reply: typed as ``/shortcut`` in the composer; ``personal``: yours only."""

    shortcut: Shortcut
    text: Text
    personal: bool = False


class CannedPatch(msgspec.Struct, forbid_unknown_fields=True):
    """What to change in a saved reply; a field left out stays as it is."""

    shortcut: Shortcut | None = None
    text: Text | None = None


class CannedResponse(msgspec.Struct):
    id: str
    shortcut: str
    text: str
    personal: bool
    operator_id: str | None
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    updated_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class ListCannedResponsesReply(msgspec.Struct):
    items: list[CannedResponse]


# GET /api/canned-responses
LIST_CANNED_RESPONSES = Operation(
    method="get",
    operation_id="listCannedResponses",
    summary="The workspace's shared canned responses and your personal ones",
    tags=("canned responses",),
    security=WRITE,
    answers={200: Answer("By shortcut.", body=ListCannedResponsesReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# POST /api/canned-responses
CREATE_CANNED_RESPONSE = Operation(
    method="post",
    operation_id="createCannedResponse",
    summary="Save a canned response",
    tags=("canned responses",),
    security=WRITE,
    body=NewCanned,
    answers={201: Answer("Saved.", body=CannedResponse)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        *BODY_FAULTS,
        Fault(409, "shortcut_taken", "The shortcut is already in use."),
        Fault(422, "invalid", "A field is invalid; `problems` lists each one."),
    ),
)


# PATCH /api/canned-responses/{id}
UPDATE_CANNED_RESPONSE = Operation(
    method="patch",
    operation_id="updateCannedResponse",
    summary="Change a canned response",
    tags=("canned responses",),
    security=WRITE,
    body=CannedPatch,
    params=(Param("id", where="path", description="Canned response id", required=True),),
    answers={200: Answer("Changed.", body=CannedResponse)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        *BODY_FAULTS,
        Fault(409, "shortcut_taken", "The shortcut is already in use."),
        Fault(422, "invalid", "A field is invalid; `problems` lists each one."),
    ),
)


# DELETE /api/canned-responses/{id}
DELETE_CANNED_RESPONSE = Operation(
    method="delete",
    operation_id="deleteCannedResponse",
    summary="Delete a canned response",
    tags=("canned responses",),
    security=WRITE,
    params=(Param("id", where="path", description="Canned response id", required=True),),
    answers={204: Answer("Deleted; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)
