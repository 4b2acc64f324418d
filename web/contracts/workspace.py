"""The workspace routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.contracts.common import Operator, Workspace
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


class ListOperatorsReply(msgspec.Struct):
    items: list[Operator]
    next_cursor: str | None


Name = Annotated[str, Meta(min_length=1, max_length=200)]
Role = Literal["owner", "admin", "agent"]


class AddOperatorBody(msgspec.Struct):
    """A new operator of the workspace, with the password they sign in with first."""

    keep_space: ClassVar[frozenset[str]] = frozenset({"password"})
    email: Annotated[str, Meta(max_length=320, extra_json_schema={"format": "email"})]
    name: Name
    password: Annotated[str, Meta(min_length=10, max_length=1024)]
    role: Annotated[Role, Meta(description="Only an owner may add an owner.")] = "agent"


class PatchOperatorBody(msgspec.Struct):
    """What to change in an operator; a field left out stays as it is."""

    name: Name | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET


class PatchWorkspaceBody(msgspec.Struct):
    """The workspace settings to change; a field left out stays as it is."""

    name: Name | UnsetType = UNSET
    retention_days: (
        Annotated[
            Annotated[int, Meta(ge=1, le=36500)] | None, Meta(description="null keeps everything.")
        ]
        | UnsetType
    ) = UNSET
    allowed_origins: (
        Annotated[
            list[Annotated[str, Meta(max_length=300)]],
            Meta(max_length=100, description="Origins such as https://example.com."),
        ]
        | UnsetType
    ) = UNSET
    business_hours: dict[str, Any] | UnsetType | None = UNSET
    require_2fa: bool | UnsetType = UNSET
    csat_enabled: (
        Annotated[
            bool,
            Meta(
                description="Ask contacts to rate a conversation once it is resolved (by an operator or a flow)."
            ),
        ]
        | UnsetType
    ) = UNSET
    agents_may_export: (
        Annotated[bool, Meta(description="Let agents export and erase contacts.")] | UnsetType
    ) = UNSET
    ai_enabled: (
        Annotated[
            bool,
            Meta(
                description="Owners only; 422 `ai_unavailable` when the server has no AI provider."
            ),
        ]
        | UnsetType
    ) = UNSET
    ai_monthly_tokens: (
        Annotated[
            Annotated[int, Meta(ge=0, le=10**12)] | None,
            Meta(description="Owners only; null: no limit."),
        ]
        | UnsetType
    ) = UNSET


class DeleteApiWorkspaceBody(msgspec.Struct):
    """The owner's password, confirming the deletion."""

    keep_space: ClassVar[frozenset[str]] = frozenset({"password"})
    password: Annotated[str, Meta(min_length=1, extra_json_schema={"writeOnly": True})]


EntryName = Annotated[
    str | None,
    Meta(
        description="The current name of what the entry points at (`former operator`, `erased contact` and the like when gone)."
    ),
]


class AuditEntryActor(msgspec.Struct):
    kind: Literal["operator", "token", "system", "anonymous"]
    id: str | None
    name: EntryName


class AuditEntryTarget(msgspec.Struct):
    kind: str | None
    id: str | None
    name: EntryName


class AuditEntry(msgspec.Struct):
    id: str
    at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    actor: AuditEntryActor
    action: Annotated[
        str,
        Meta(
            description="e.g. signup, login, login_failed, logout, 2fa_enabled, 2fa_disabled, password_changed, token_created, token_revoked, operator_added, operator_changed, workspace_changed, channel_created, channel_deleted, contact_updated, contact_exported, contact_erased"
        ),
    ]
    target: AuditEntryTarget
    ip: str | UnsetType = UNSET


class ListAuditReply(msgspec.Struct):
    items: list[AuditEntry]
    next_cursor: str | None


# GET /api/operators
LIST_OPERATORS = Operation(
    method="get",
    operation_id="listOperators",
    summary="List the workspace's operators",
    tags=("workspace",),
    answers={200: Answer("Operators.", body=ListOperatorsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# POST /api/operators
ADD_OPERATOR = Operation(
    method="post",
    operation_id="addOperator",
    summary="Add an operator (owners and admins)",
    tags=("workspace",),
    security=WRITE,
    body=AddOperatorBody,
    answers={201: Answer("The operator.", body=Operator)},
    faults=(
        Fault(409, "email_taken", "Email taken."),
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# GET /api/operators/{operator_id}
GET_OPERATOR = Operation(
    method="get",
    operation_id="getOperator",
    summary="One operator",
    tags=("workspace",),
    params=(Param("operator_id", where="path", required=True),),
    answers={200: Answer("The operator.", body=Operator)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# PATCH /api/operators/{operator_id}
PATCH_OPERATOR = Operation(
    method="patch",
    operation_id="patchOperator",
    summary="Change an operator's name, role or disabled flag (owners and admins)",
    tags=("workspace",),
    security=WRITE,
    description="Disabling ends the operator's sessions and closes their sockets (1008). Nobody changes their own role or disables themselves.",
    body=PatchOperatorBody,
    params=(Param("operator_id", where="path", required=True),),
    answers={200: Answer("The updated operator.", body=Operator)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# GET /api/workspace
GET_WORKSPACE = Operation(
    method="get",
    operation_id="getWorkspace",
    summary="Workspace settings",
    tags=("workspace",),
    answers={200: Answer("The workspace.", body=Workspace)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# PATCH /api/workspace
PATCH_WORKSPACE = Operation(
    method="patch",
    operation_id="patchWorkspace",
    summary="Change workspace settings (owners and admins)",
    tags=("workspace",),
    security=WRITE,
    body=PatchWorkspaceBody,
    answers={200: Answer("The updated workspace.", body=Workspace)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
        Fault(
            422,
            "invalid",
            "A field is missing or invalid; `detail` names it. With `ai_enabled: true` while the server has no AI provider: `ai_unavailable`.",
        ),
    ),
)


# DELETE /api/workspace
DELETE_API_WORKSPACE = Operation(
    method="delete",
    operation_id="deleteApiWorkspace",
    summary="Delete the workspace (owners; confirmed with the password)",
    tags=("workspace",),
    security=WRITE,
    description="Every operator's sessions end and the workspace's channels, tokens and widget stop answering at once. The data stays recoverable for 90 days (`inviaro restore-workspace WORKSPACE_ID`), then retention purges it completely.",
    body=DeleteApiWorkspaceBody,
    answers={204: Answer("Deleted; recoverable for 90 days.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
        Fault(404, "error", "The workspace is already deleted."),
    ),
)


AUDIT_FILTERS = (
    Param(
        "action",
        kind=Annotated[str, Meta(max_length=64)],
        description="Only entries of this action (e.g. `login_failed`).",
    ),
    Param(
        "actor_id",
        kind=Annotated[str, Meta(max_length=40)],
        description="Only entries by this operator.",
    ),
)


# GET /api/audit
LIST_AUDIT = Operation(
    method="get",
    operation_id="listAudit",
    summary="Audit log, newest first (owners and admins)",
    tags=("workspace",),
    description="Actors and targets carry `name` (an operator's, a channel's, a contact's… current name; `former operator`, `erased contact` and the like when gone).",
    params=(
        Param("limit", kind=Annotated[int, Meta(ge=1, le=200)], default=50),
        Param("cursor", kind=Annotated[str, Meta(max_length=40)]),
        *AUDIT_FILTERS,
    ),
    answers={200: Answer("Entries.", body=ListAuditReply)},
    faults=(
        Fault(422, "invalid", "A bad query parameter; `problems` names each."),
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)
