"""The admin routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.operation import FORBIDDEN, NOT_FOUND, UNAUTHORIZED, WRITE, Answer, Fault, Operation, Param


class LegalHold(msgspec.Struct):
    id: str
    from_: Annotated[
        str, Meta(extra_json_schema={"format": "date-time"}, description="Held from (inclusive).")
    ] = msgspec.field(name="from")
    to: Annotated[
        str, Meta(extra_json_schema={"format": "date-time"}, description="Held until (exclusive).")
    ]
    reason: Annotated[str, Meta(max_length=500)]
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    lifted_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | None
    workspace_id: str | UnsetType | None = UNSET
    created_by: str | UnsetType | None = UNSET
    lifted_by: str | UnsetType | None = UNSET


class ListLegalHoldsReply(msgspec.Struct):
    items: list[LegalHold]
    next_cursor: None


# RFC 3339 with a four-digit year from 1000 (what the contract's times can be written as).
Moment = Annotated[str, Meta(pattern=r"^[1-9][0-9]{3}-", extra_json_schema={"format": "date-time"})]


class PlaceLegalHoldBody(msgspec.Struct):
    """A legal hold to place: the span of log entries it keeps, and why."""

    from_: Moment = msgspec.field(name="from")
    to: Moment
    reason: Annotated[str, Meta(max_length=500)]


class ConsentQuestion(msgspec.Struct):
    enabled: bool
    text: Annotated[str, Meta(max_length=2000)] | None
    version: Annotated[
        int, Meta(description="Counts the texts; each answer names the version it answered.")
    ]


class PutConsentQuestionBody(msgspec.Struct):
    """Whether the widget asks, and what (a changed text gets the next version)."""

    enabled: bool
    text: Annotated[str, Meta(max_length=2000)] | None = None


# DELETE /api/operators/{operator_id}
DELETE_OPERATOR = Operation(
    method="delete",
    operation_id="deleteOperator",
    summary='Delete an operator\'s account (owners; not yourself): messages stay, by "former operator"; sessions, tokens and sockets end',
    tags=("admin",),
    security=WRITE,
    params=(Param("operator_id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# GET /api/legal-holds
LIST_LEGAL_HOLDS = Operation(
    method="get",
    operation_id="listLegalHolds",
    summary="List the workspace's legal holds, lifted ones too (owners)",
    tags=("admin",),
    answers={200: Answer("The holds, newest first.", body=ListLegalHoldsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# POST /api/legal-holds
PLACE_LEGAL_HOLD = Operation(
    method="post",
    operation_id="placeLegalHold",
    summary="Place a legal hold: audit and security log entries of [from, to) outlive their retention until lifted (owners; audited)",
    tags=("admin",),
    security=WRITE,
    body=PlaceLegalHoldBody,
    answers={201: Answer("The hold.", body=LegalHold)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(422, "invalid", "Invalid fields; the detail names the field."),
    ),
)


# DELETE /api/legal-holds/{hold_id}
LIFT_LEGAL_HOLD = Operation(
    method="delete",
    operation_id="liftLegalHold",
    summary="Lift a legal hold: its entries go at the next purge (owners; audited)",
    tags=("admin",),
    security=WRITE,
    params=(Param("hold_id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# GET /api/workspace/consent
GET_CONSENT_QUESTION = Operation(
    method="get",
    operation_id="getConsentQuestion",
    summary="The consent question the widget asks before chatting (off by default)",
    tags=("admin",),
    answers={200: Answer("The question.", body=ConsentQuestion)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# PUT /api/workspace/consent
PUT_CONSENT_QUESTION = Operation(
    method="put",
    operation_id="putConsentQuestion",
    summary="Set the consent question (managers): a new text gets the next version and asks everyone again; audited",
    tags=("admin",),
    security=WRITE,
    body=PutConsentQuestionBody,
    answers={200: Answer("The question.", body=ConsentQuestion)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(422, "invalid", "Invalid fields; the detail names the field."),
    ),
)
