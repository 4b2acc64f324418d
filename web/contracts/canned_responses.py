"""The canned_responses routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from web.operation import WRITE, Answer, Fault, Operation, Param

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
        Fault(400, "bad_json", "The body is not valid JSON or not a JSON object."),
        Fault(413, "too_large", "The body is larger than 1 MiB."),
        Fault(415, "unsupported_media_type", "The Content-Type is not JSON."),
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
        Fault(400, "bad_json", "The body is not valid JSON or not a JSON object."),
        Fault(413, "too_large", "The body is larger than 1 MiB."),
        Fault(415, "unsupported_media_type", "The Content-Type is not JSON."),
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
