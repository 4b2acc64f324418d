"""The customer satisfaction (CSAT) report: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from web.operation import FORBIDDEN, UNAUTHORIZED, Answer, Fault, Operation, Param


class CsatSummary(msgspec.Struct):
    requested: int
    responses: int
    average: float | None
    distribution: Annotated[
        dict[str, int], Meta(description='Answers per rating, keys "1" to "5".')
    ]


class CsatGroup(CsatSummary):
    """One operator's or team's figures."""

    id: str
    name: str | None


class CsatReport(msgspec.Struct):
    days: int
    since: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    overall: CsatSummary
    operators: list[CsatGroup]
    teams: list[CsatGroup]


# GET /api/reports/csat
CSAT_REPORT = Operation(
    method="get",
    operation_id="csatReport",
    summary="Satisfaction (CSAT) report: surveys sent after resolving, answers and averages, overall, per operator and per team (managers)",
    tags=("reports",),
    description="A survey goes out once when an operator or a flow's `resolve` step resolves a conversation whose contact wrote, unless the workspace switched surveys off (`PATCH /api/workspace {csat_enabled: false}`) (widget: five buttons valued csat:1..csat:5; other channels: a question answered by a reply of one digit, inside the channel's reply window); never to a restricted or objected contact. Operators and teams are those of the conversation when it was resolved.",
    params=(
        Param(
            "days",
            kind=Annotated[int, Meta(ge=1, le=365)],
            description="Surveys sent in the last this many days.",
            default=30,
        ),
    ),
    answers={200: Answer("The report.", body=CsatReport)},
    faults=(
        Fault(422, "invalid", "Bad days; `problems` names it."),
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)
