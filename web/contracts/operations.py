"""The operations routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Any, Literal

import msgspec

from web.operation import PUBLIC, Answer, Operation


class HealthzReply(msgspec.Struct):
    status: Literal["ok"]


class ReadyzReply(msgspec.Struct):
    status: Literal["ready", "degraded"]
    checks: dict[str, Literal["ok", "unreachable", "unavailable", "stalled"]]


class Readyz503(msgspec.Struct):
    """The Readyz503 body."""

    status: str
    checks: dict[str, Any]


# GET /healthz
HEALTHZ = Operation(
    method="get",
    operation_id="healthz",
    summary="Liveness: the process answers",
    tags=("operations",),
    security=PUBLIC,
    answers={200: Answer("Alive", body=HealthzReply)},
)


# GET /readyz
READYZ = Operation(
    method="get",
    operation_id="readyz",
    summary="Readiness: this process can accept and acknowledge messages",
    tags=("operations",),
    security=PUBLIC,
    answers={
        200: Answer(
            'Ready; "degraded" when Redis is unreachable (messages are still accepted and acknowledged, other processes hear of them late)',
            body=ReadyzReply,
        ),
        503: Answer(
            "Not ready: messages cannot be stored and acknowledged now (database unavailable or locked, or the writer stalled); the process stays up.",
            body=Readyz503,
        ),
    },
)


# GET /metrics
METRICS = Operation(
    method="get",
    operation_id="metrics",
    summary="Prometheus metrics (names prefixed inviaro_)",
    tags=("operations",),
    security=PUBLIC,
    answers={200: Answer("Prometheus text exposition format.", body=str, media_type="text/plain")},
)


# GET /openapi.json
OPENAPI = Operation(
    method="get",
    operation_id="openapi",
    summary="This OpenAPI document",
    tags=("operations",),
    security=PUBLIC,
    answers={200: Answer("The document.", body=dict[str, Any])},
)
