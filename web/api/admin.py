"""Managing a workspace: its operators, its settings and its audit log.

Owners and admins manage; agents may list operators and read settings. Another
workspace's resources answer 404, exactly like ones that never existed.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.flows.hours import InvalidHours, parse_hours
from hub.gone import gone
from storage.models import Operator, Workspace
from web import ai, audit
from web.api import validate
from web.api.account import (
    email_address,
    insert_operator,
    operator_json,
    services,
    workspace_json,
)
from web.auth import passwords
from web.auth.context import MANAGERS, ROLES, Principal, require
from web.auth.sessions import end_operator_access
from web.contracts import workspace as workspace_contract
from web.errors import ApiError
from web.gone import announce
from web.operation import declare


def _role(value: Any, principal: Principal) -> str:
    if value not in ROLES:
        raise validate.invalid("role", "must be owner, admin or agent")
    if value == "owner" and principal.role != "owner":
        raise ApiError(403, "forbidden", "Only an owner may make someone an owner.")
    return str(value)


@declare(workspace_contract.LIST_OPERATORS)
async def list_operators(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        rows = (
            await db.execute(
                select(Operator)
                .where(
                    Operator.workspace_id == principal.workspace_id,
                    Operator.deleted_at.is_(None),  # deleted accounts (web.api.me)
                )
                .order_by(Operator.created_at, Operator.id)
            )
        ).scalars()
        return JSONResponse({"items": [operator_json(o) for o in rows], "next_cursor": None})


@declare(workspace_contract.ADD_OPERATOR)
async def add_operator(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    body = await workspace_contract.ADD_OPERATOR.parse(request, workspace_contract.AddOperatorBody)
    email, name, password = email_address(body.email), body.name, body.password
    role = _role(body.role, principal)
    password_hash = await passwords.hash_password(password)
    async with services(request).db() as db:
        operator = Operator(
            workspace_id=principal.workspace_id,
            email=email,
            name=name,
            password_hash=password_hash,
            role=role,
        )
        await insert_operator(db, operator)
        await audit.by_principal(db, request, principal, "operator_added", "operator", operator.id)
        await db.commit()
    return JSONResponse(operator_json(operator), status_code=201)


async def _own_operator(db: Any, principal: Principal, operator_id: str) -> Operator:
    operator = await db.get(Operator, operator_id)
    if (
        operator is None
        or operator.workspace_id != principal.workspace_id
        or operator.deleted_at is not None
    ):
        raise ApiError(404, "not_found", "There is no such operator.")
    return operator  # type: ignore[no-any-return]


@declare(workspace_contract.GET_OPERATOR)
async def get_operator(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        operator = await _own_operator(db, principal, request.path_params["operator_id"])
        return JSONResponse(operator_json(operator))


@declare(workspace_contract.PATCH_OPERATOR)
async def patch_operator(request: Request) -> Response:
    """Change ``name``, ``role`` or ``disabled``. Disabling ends the operator's sessions and
    their API tokens' use, and closes every socket they hold on every process. Nobody
    changes their own role or disables themselves, so a workspace always keeps the owner
    who is acting."""
    principal = await require(request, roles=MANAGERS)
    patch = await workspace_contract.PATCH_OPERATOR.parse(
        request, workspace_contract.PatchOperatorBody
    )
    async with services(request).db() as db:
        operator = await _own_operator(db, principal, request.path_params["operator_id"])
        changes: dict[str, Any] = {}
        if patch.name is not UNSET:
            changes["name"] = patch.name
        if patch.role is not UNSET and patch.role != operator.role:
            changes["role"] = _role(patch.role, principal)
        if patch.disabled is not UNSET and patch.disabled != operator.disabled:
            changes["disabled"] = patch.disabled
        if operator.id == principal.operator_id and ({"role", "disabled"} & changes.keys()):
            raise ApiError(
                403, "forbidden", "You may not change your own role or disable yourself."
            )
        if operator.role == "owner" and principal.role != "owner" and changes:
            raise ApiError(403, "forbidden", "Only an owner may change an owner.")
        for key, value in changes.items():
            setattr(operator, key, value)
        if changes:
            await audit.by_principal(
                db, request, principal, "operator_changed", "operator", operator.id
            )
        await db.commit()
    if changes.get("disabled") is True:
        await end_operator_access(request.app, operator.id, "operator_disabled")
    return JSONResponse(operator_json(operator))


async def _own_workspace(db: Any, principal: Principal) -> Workspace:
    workspace = await db.get(Workspace, principal.workspace_id)
    if workspace is None:
        raise ApiError(404, "not_found", "The workspace is gone.")
    return workspace  # type: ignore[no-any-return]


def _workspace_body(request: Request, workspace: Workspace) -> dict[str, Any]:
    """The workspace, with AI as it really stands: on only while the server names a
    provider too, and which provider (its host, model and region) data would go to."""
    settings = services(request).settings
    body = workspace_json(workspace)
    body["ai_enabled"] = workspace.ai_enabled and settings.ai_configured
    chosen = ai.provider(settings)
    body["ai_provider"] = (
        None
        if chosen is None
        else {"host": chosen.host, "model": chosen.model, "region": settings.ai_region or None}
    )
    return body


@declare(workspace_contract.GET_WORKSPACE)
async def get_workspace(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        return JSONResponse(_workspace_body(request, await _own_workspace(db, principal)))


def _workspace_changes(patch: workspace_contract.PatchWorkspaceBody) -> dict[str, Any]:
    """The fields sent, each as stored (origins normalised, business hours checked)."""
    changes = {
        f: getattr(patch, f) for f in patch.__struct_fields__ if getattr(patch, f) is not UNSET
    }
    if "allowed_origins" in changes:
        changes["allowed_origins"] = validate.origins(changes["allowed_origins"], "allowed_origins")
    if changes.get("business_hours") is not None:
        changes["business_hours"] = _business_hours(changes["business_hours"])
    return changes


@declare(workspace_contract.PATCH_WORKSPACE)
async def patch_workspace(request: Request) -> Response:
    """Switching ``require_2fa`` on closes, on every process, the sockets of the operators
    who have no second factor yet; until they enable one, their cookies and API tokens are
    refused (403 ``2fa_required``) and so are their sockets."""
    principal = await require(request, roles=MANAGERS)
    patch = await workspace_contract.PATCH_WORKSPACE.parse(
        request, workspace_contract.PatchWorkspaceBody
    )
    changes = _workspace_changes(patch)
    _check_ai_changes(request, principal, changes)
    pending: list[str] = []
    async with services(request).db() as db:
        workspace = await _own_workspace(db, principal)
        if changes.get("require_2fa") is True and not workspace.require_2fa:
            pending = list(
                await db.scalars(
                    select(Operator.id).where(
                        Operator.workspace_id == workspace.id, Operator.totp_enabled.is_(False)
                    )
                )
            )
        switched = "ai_enabled" in changes and changes["ai_enabled"] != workspace.ai_enabled
        for key, value in changes.items():
            setattr(workspace, key, value)
        if changes:
            await audit.by_principal(
                db, request, principal, "workspace_changed", "workspace", workspace.id
            )
        if switched:
            action = "ai_enabled" if workspace.ai_enabled else "ai_disabled"
            await audit.by_principal(db, request, principal, action, "workspace", workspace.id)
        await db.commit()
        body = _workspace_body(request, workspace)
    if pending:
        await announce(services(request), gone("2fa_required", "operator", *pending))
    return JSONResponse(body)


def _check_ai_changes(request: Request, principal: Principal, changes: dict[str, Any]) -> None:
    """AI settings are the owner's: switching it on sends the workspace's conversations to
    a provider. It cannot be switched on while the server names no provider."""
    if not {"ai_enabled", "ai_monthly_tokens"} & changes.keys():
        return
    if principal.role != "owner":
        raise ApiError(403, "forbidden", "Only an owner may change the workspace's AI settings.")
    if changes.get("ai_enabled") is True and not services(request).settings.ai_configured:
        raise ApiError(422, ai.UNAVAILABLE.code, ai.UNAVAILABLE.detail)


routes = [
    Route("/api/operators", list_operators, methods=["GET"]),
    Route("/api/operators", add_operator, methods=["POST"]),
    Route("/api/operators/{operator_id}", get_operator, methods=["GET"]),
    Route("/api/operators/{operator_id}", patch_operator, methods=["PATCH"]),
    Route("/api/workspace", get_workspace, methods=["GET"]),
    Route("/api/workspace", patch_workspace, methods=["PATCH"]),
]


def _business_hours(hours: Any) -> dict[str, Any]:
    """The workspace's weekly hours, time zone and holidays, checked (422 with a sentence)."""
    try:
        parse_hours(validate.small_object(hours, "business_hours"))
    except InvalidHours as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    return dict(hours)
