"""The audit log's CSV download: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from web.operation import FORBIDDEN, UNAUTHORIZED, Answer, Operation, Param

# GET /api/audit.csv
EXPORT_AUDIT = Operation(
    method="get",
    operation_id="exportAudit",
    summary="The audit log as a CSV download (managers); same filters",
    tags=("workspace",),
    params=(
        Param("action", description="Only entries of this action (e.g. `login_failed`)."),
        Param("actor_id", description="Only entries by this operator."),
    ),
    answers={
        200: Answer(
            "CSV: at, action, actor_kind, actor_id, actor_name, target_kind, target_id, target_name, ip.",
            body=str,
            media_type="text/csv",
        )
    },
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)
