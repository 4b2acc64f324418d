"""What the account routes share: reading credentials from a body, an operator's and a
workspace's JSON, loading and inserting operators, and the session-only guard.

The routes themselves: :mod:`web.api.sessions` (sign-up, login, logout, ``/api/me``,
password), :mod:`web.api.twofa` (two-factor authentication) and :mod:`web.api.tokens`
(API tokens).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.model import rfc3339
from storage.models import Operator, Workspace
from web import audit
from web.auth.accounts import normalize_email
from web.auth.context import Principal, client_ip, must_enable_2fa
from web.auth.sessions import create_session, set_session_cookie
from web.errors import ApiError
from web.services import Services


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def email_address(value: str, name: str = "email") -> str:
    """``value`` as the one spelling stored for an email address (422 if it is not one)."""
    normal = normalize_email(value)
    if normal is None:
        raise ApiError(422, "invalid", f"The field '{name}' is not an email address.")
    return normal


def avatar_url(operator_id: str, at: datetime | None) -> str | None:
    """Where the operator's picture is served (web/api/avatar.py), versioned by when it was
    set, so a browser may keep it and a new picture is a new URL."""
    return (
        None
        if at is None
        else f"/api/operators/{operator_id}/avatar?v={int(at.timestamp() * 1000)}"
    )


def operator_json(operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id,
        "name": operator.name,
        "email": operator.email,
        "role": operator.role,
        "disabled": operator.disabled,
        "totp_enabled": operator.totp_enabled,
        "created_at": rfc3339(operator.created_at),
        "avatar_url": avatar_url(operator.id, operator.avatar_at),
    }


def workspace_json(workspace: Workspace) -> dict[str, Any]:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "retention_days": workspace.retention_days,
        "allowed_origins": list(workspace.allowed_origins or []),
        "business_hours": workspace.business_hours,
        "require_2fa": workspace.require_2fa,
        "ai_enabled": workspace.ai_enabled,
        "ai_monthly_tokens": workspace.ai_monthly_tokens,
        "csat_enabled": workspace.csat_enabled,
        "created_at": rfc3339(workspace.created_at),
    }


def account_json(operator: Operator, workspace: Workspace, csrf: str | None) -> dict[str, Any]:
    return {
        "operator": operator_json(operator),
        "workspace": workspace_json(workspace),
        "csrf_token": csrf,
        "must_enable_2fa": must_enable_2fa(operator, workspace),
    }


async def load_account(db: AsyncSession, operator_id: str) -> tuple[Operator, Workspace]:
    row = (
        await db.execute(
            select(Operator, Workspace)
            .join(Workspace, Workspace.id == Operator.workspace_id)
            .where(Operator.id == operator_id)
        )
    ).first()
    if row is None:
        raise ApiError(401, "unauthorized", "Sign in again.")
    return row[0], row[1]


_EMAIL_TAKEN = "An operator with this email already exists."


async def insert_operator(db: AsyncSession, operator: Operator) -> None:
    """Add ``operator`` and flush it, or answer 409 ``email_taken``: the lookup catches the
    usual case, the unique index a race between two inserts."""
    if await db.scalar(select(Operator.id).where(Operator.email == operator.email)):
        raise ApiError(409, "email_taken", _EMAIL_TAKEN)
    db.add(operator)
    try:
        await db.flush()
    except IntegrityError:
        raise ApiError(409, "email_taken", _EMAIL_TAKEN) from None


async def signed_in(
    request: Request, db: AsyncSession, operator: Operator, workspace: Workspace, status: int
) -> Response:
    """Open a new session for ``operator`` (the caller's pending changes commit with it)."""
    svc = services(request)
    session, cookie = await create_session(db, svc.settings, operator.id, client_ip(request))
    await db.commit()
    response = JSONResponse(account_json(operator, workspace, session.csrf_token), status)
    set_session_cookie(response, svc.settings, cookie)
    return response


def session_only(principal: Principal) -> str:
    if principal.session_id is None:
        raise ApiError(403, "session_required", "Do this signed in, not with an API token.")
    return principal.session_id


async def audit_self(db: AsyncSession, request: Request, principal: Principal, action: str) -> None:
    """A change to the operator's own sign-in (every caller is session-only)."""
    await audit.by_principal(db, request, principal, action, "operator", principal.operator_id)
