"""The audit log's CSV download: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from web.contracts.workspace import AUDIT_FILTERS
from web.operation import FORBIDDEN, UNAUTHORIZED, Answer, Fault, Operation

# GET /api/audit.csv
EXPORT_AUDIT = Operation(
    method="get",
    operation_id="exportAudit",
    summary="The audit log as a CSV download (managers); same filters",
    tags=("workspace",),
    params=AUDIT_FILTERS,
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
        Fault(422, "invalid", "A bad query parameter; `problems` names each."),
    ),
)
