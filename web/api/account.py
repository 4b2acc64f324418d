"""The signed-in operator's own account: sign-up, login, logout, ``/api/me``, password,
two-factor authentication and API tokens.

Second factor choices (documented in docs/api.md): ``POST /api/2fa/setup`` answers
``{secret, otpauth_uri, backup_codes}``; the ten backup codes are shown once there and work
only after ``/api/2fa/enable``. At login a backup code may stand in for the ``otp``. A wrong
or reused code at login answers 401 ``otp_required``. When the workspace requires 2FA, an
operator without it may still log in; ``/api/me`` then reports ``must_enable_2fa: true`` and
every other API call answers 403 ``2fa_required`` until 2FA is enabled.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.gone import gone
from hub.model import rfc3339, utcnow
from storage.models import ApiToken, BackupCode, Operator, Workspace
from web import audit, limits
from web.auth import passwords, throttle, totp
from web.auth.accounts import normalize_email
from web.auth.context import MANAGERS, Principal, client_ip, must_enable_2fa, require
from web.auth.sessions import (
    clear_session_cookie,
    cookie_name,
    create_session,
    end_operator_access,
    lookup_session,
    revoke_operator_sessions,
    revoke_session,
    set_session_cookie,
)
from web.contracts import account as account_contract
from web.crypto import random_token, sha256_hex
from web.errors import ApiError, field, read_json
from web.gone import announce
from web.operation import declare
from web.services import Services


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def email_field(data: dict[str, Any], name: str = "email") -> str:
    value = normalize_email(str(field(data, name, str, max_len=320)))
    if value is None:
        raise ApiError(422, "invalid", f"The field '{name}' is not an email address.")
    return value


def password_field(data: dict[str, Any], name: str = "password") -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ApiError(422, "invalid", f"The field '{name}' is required and must be a string.")
    if len(value) < passwords.MIN_LENGTH:
        raise ApiError(
            422, "invalid", f"The field '{name}' needs at least {passwords.MIN_LENGTH} characters."
        )
    if len(value) > passwords.MAX_LENGTH:
        raise ApiError(422, "invalid", f"The field '{name}' is longer than {passwords.MAX_LENGTH}.")
    return value


def given_password(data: dict[str, Any]) -> str:
    """The ``password`` typed to prove who one is, cut at ``MAX_LENGTH``: it is only compared
    with a hash, so unlike a new password it gets no length rules."""
    value = data.get("password")
    if not isinstance(value, str) or not value:
        raise ApiError(422, "invalid", "The field 'password' is required.")
    return value[: passwords.MAX_LENGTH]


def operator_json(operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id,
        "name": operator.name,
        "email": operator.email,
        "role": operator.role,
        "disabled": operator.disabled,
        "totp_enabled": operator.totp_enabled,
        "created_at": rfc3339(operator.created_at),
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


async def _signed_in(
    request: Request, db: AsyncSession, operator: Operator, workspace: Workspace, status: int
) -> Response:
    """Open a new session for ``operator`` (the caller's pending changes commit with it)."""
    svc = services(request)
    session, cookie = await create_session(db, svc.settings, operator.id, client_ip(request))
    await db.commit()
    response = JSONResponse(account_json(operator, workspace, session.csrf_token), status)
    set_session_cookie(response, svc.settings, cookie)
    return response


def _session_only(principal: Principal) -> str:
    if principal.session_id is None:
        raise ApiError(403, "session_required", "Do this signed in, not with an API token.")
    return principal.session_id


@declare(account_contract.SIGNUP)
async def signup(request: Request) -> Response:
    data = await read_json(request)
    workspace_name = field(data, "workspace", str, max_len=200)
    name = field(data, "name", str, max_len=200)
    email = email_field(data)
    password = password_field(data)
    svc = services(request)
    await limits.signup(request)
    password_hash = await passwords.hash_password(password)  # before any transaction opens
    async with svc.db() as db:
        workspace = Workspace(name=workspace_name, allowed_origins=[])
        db.add(workspace)
        await db.flush()
        operator = Operator(
            workspace_id=workspace.id,
            email=email,
            name=name,
            password_hash=password_hash,
            role="owner",
        )
        await insert_operator(db, operator)
        await audit.by_operator(db, request, operator, "signup", "workspace", workspace.id)
        return await _signed_in(request, db, operator, workspace, 201)


async def _revoke_presented_session(request: Request) -> None:
    """Logging in again ends the session the browser still held: one live session each."""
    svc = services(request)
    value = request.cookies.get(cookie_name(svc.settings))
    if not value:
        return
    async with svc.db() as db:
        found = await lookup_session(db, svc.settings, value)
    if found is not None:
        await revoke_session(request.app, found[1].id, found[0].id)


@declare(account_contract.LOGIN)
async def login(request: Request) -> Response:
    data = await read_json(request)
    email = str(field(data, "email", str, max_len=320)).lower()
    password = given_password(data)
    otp = field(data, "otp", str, required=False, max_len=64)
    svc = services(request)
    attempt = await throttle.begin_login(request, email)
    async with svc.db() as db:
        operator = await db.scalar(select(Operator).where(Operator.email == email))
        await db.commit()  # hold no transaction (on SQLite: no write lock) while hashing
    ok = await passwords.verify_password(operator.password_hash if operator else None, password)
    new_hash = None
    if ok and operator is not None and passwords.needs_rehash(operator.password_hash):
        new_hash = await passwords.hash_password(password)
    async with svc.db() as db:
        if not ok or operator is None or operator.disabled:
            await _failed(db, request, operator)
            raise ApiError(401, "invalid_credentials", "The email or password is wrong.")
        if operator.totp_enabled:
            if not otp:
                await throttle.not_a_failure(request, attempt)
                raise ApiError(401, "otp_required", "Enter the code from your authenticator app.")
            if not await totp.check_second_factor(db, svc.settings, operator, otp):
                await _failed(db, request, operator)
                raise ApiError(401, "otp_required", "That code is wrong or was already used.")
    await throttle.not_a_failure(request, attempt)
    await _revoke_presented_session(request)
    async with svc.db() as db:
        workspace = await db.get(Workspace, operator.workspace_id)
        if workspace is None or workspace.deleted_at is not None:
            raise ApiError(401, "invalid_credentials", "The email or password is wrong.")
        if new_hash is not None:
            await db.execute(
                update(Operator).where(Operator.id == operator.id).values(password_hash=new_hash)
            )
        await audit.by_operator(db, request, operator, "login", "operator", operator.id)
        return await _signed_in(request, db, operator, workspace, 200)


async def _failed(db: AsyncSession, request: Request, operator: Operator | None) -> None:
    """Audit a failed sign-in by operator id only: never the email or password tried."""
    await audit.record(
        db,
        workspace_id=operator.workspace_id if operator else None,
        actor_kind="anonymous",
        actor_id=None,
        action="login_failed",
        target_kind="operator" if operator else None,
        target_id=operator.id if operator else None,
        ip=client_ip(request),
    )
    await db.commit()


@declare(account_contract.LOGOUT)
async def logout(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    session_id = _session_only(principal)
    await revoke_session(request.app, principal.operator_id, session_id)
    async with services(request).db() as db:
        await audit.by_principal(db, request, principal, "logout", "session", session_id)
        await db.commit()
    response = Response(status_code=204)
    clear_session_cookie(response, services(request).settings)
    return response


@declare(account_contract.ME)
async def me(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    account = principal.account
    if account is None:  # an API token's check reads no account rows
        async with services(request).db() as db:
            account = await load_account(db, principal.operator_id)
    return JSONResponse(account_json(*account, principal.csrf_token))


@declare(account_contract.CHANGE_PASSWORD)
async def change_password(request: Request) -> Response:
    """Ends every session and revokes every API token of the operator (their sockets close
    everywhere), then opens a fresh session for this browser."""
    principal = await require(request, allow_pending_2fa=True)
    _session_only(principal)
    data = await read_json(request)
    current = data.get("current_password")
    new = password_field(data, "new_password")
    svc = services(request)
    async with svc.db() as db:
        operator, workspace = await load_account(db, principal.operator_id)
        await db.commit()
    if not isinstance(current, str) or not await throttle.check_password(
        request, operator.id, operator.password_hash, current[: passwords.MAX_LENGTH]
    ):
        raise ApiError(422, "invalid_password", "The current password is wrong.")
    new_hash = await passwords.hash_password(new)
    async with svc.db() as db:
        await db.execute(
            update(Operator).where(Operator.id == operator.id).values(password_hash=new_hash)
        )
        await _audit_self(db, request, principal, "password_changed")
        await db.commit()
    # As after a compromise: every session and API token ends, and with them every socket.
    await end_operator_access(request.app, operator.id, "password_changed", revoke_tokens=True)
    async with svc.db() as db:
        return await _signed_in(request, db, operator, workspace, 200)


@declare(account_contract.TWOFA_SETUP)
async def twofa_setup(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    _session_only(principal)
    svc = services(request)
    async with svc.db() as db:
        operator, _ = await load_account(db, principal.operator_id)
        if operator.totp_enabled:
            raise ApiError(409, "2fa_enabled", "Two-factor authentication is already enabled.")
        secret = totp.new_secret()
        codes = totp.new_backup_codes()
        operator.totp_secret = totp.seal_secret(svc.settings, secret)
        await db.execute(delete(BackupCode).where(BackupCode.operator_id == operator.id))
        db.add_all(
            BackupCode(operator_id=operator.id, code_hash=totp.hash_backup_code(svc.settings, c))
            for c in codes
        )
        await db.commit()
    return JSONResponse(
        {
            "secret": secret,
            "otpauth_uri": totp.otpauth_uri(secret, operator.email),
            "backup_codes": codes,
        }
    )


@declare(account_contract.TWOFA_ENABLE)
async def twofa_enable(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    session_id = _session_only(principal)
    data = await read_json(request)
    code = field(data, "otp", str, max_len=64)
    svc = services(request)
    async with svc.db() as db:
        operator, _ = await load_account(db, principal.operator_id)
        if operator.totp_enabled:
            raise ApiError(409, "2fa_enabled", "Two-factor authentication is already enabled.")
        if operator.totp_secret is None:
            raise ApiError(409, "2fa_not_set_up", "Call /api/2fa/setup first.")
        secret = totp.open_secret(svc.settings, operator.totp_secret)
        if not await totp.accept_totp(db, operator.id, secret, code):
            raise ApiError(422, "invalid_otp", "That code is wrong or was already used.")
        await db.execute(
            update(Operator).where(Operator.id == operator.id).values(totp_enabled=True)
        )
        await _audit_self(db, request, principal, "2fa_enabled")
        await db.commit()
    await revoke_operator_sessions(request.app, principal.operator_id, keep_session_id=session_id)
    return Response(status_code=204)


@declare(account_contract.TWOFA_DISABLE)
async def twofa_disable(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    _session_only(principal)
    data = await read_json(request)
    code = field(data, "otp", str, max_len=64)
    password = given_password(data)
    svc = services(request)
    async with svc.db() as db:
        operator, workspace = await load_account(db, principal.operator_id)
        await db.commit()
    if not operator.totp_enabled:
        raise ApiError(409, "2fa_not_enabled", "Two-factor authentication is not enabled.")
    if not await throttle.check_password(request, operator.id, operator.password_hash, password):
        raise ApiError(422, "invalid_password", "The password is wrong.")
    async with svc.db() as db:
        if not await totp.check_second_factor(db, svc.settings, operator, code):
            raise ApiError(422, "invalid_otp", "That code is wrong or was already used.")
        await db.execute(
            update(Operator)
            .where(Operator.id == operator.id)
            .values(totp_enabled=False, totp_secret=None)
        )
        await db.execute(delete(BackupCode).where(BackupCode.operator_id == operator.id))
        await _audit_self(db, request, principal, "2fa_disabled")
        await db.commit()
    if workspace.require_2fa:  # pending now: their sockets close until 2FA is back on
        await announce(svc, gone("2fa_required", "operator", operator.id))
    return Response(status_code=204)


async def _audit_self(
    db: AsyncSession, request: Request, principal: Principal, action: str
) -> None:
    """A change to the operator's own sign-in (every caller is session-only)."""
    await audit.by_principal(db, request, principal, action, "operator", principal.operator_id)


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "operator_id": token.operator_id,
        "created_at": rfc3339(token.created_at),
        "last_used_at": rfc3339(token.last_used_at) if token.last_used_at else None,
    }


@declare(account_contract.CREATE_TOKEN)
async def create_token(request: Request) -> Response:
    """A bearer token acting as this operator; only its SHA-256 is kept, so it shows once."""
    principal = await require(request)
    _session_only(principal)
    data = await read_json(request)
    name = field(data, "name", str, max_len=200)
    token = random_token("ivt_", 32)
    async with services(request).db() as db:
        row = ApiToken(
            workspace_id=principal.workspace_id,
            operator_id=principal.operator_id,
            name=name,
            token_hash=sha256_hex(token),
        )
        db.add(row)
        await db.flush()
        await audit.by_principal(db, request, principal, "token_created", "token", row.id)
        await db.commit()
    return JSONResponse({**token_json(row), "token": token}, status_code=201)


@declare(account_contract.LIST_TOKENS)
async def list_tokens(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        rows = (
            await db.execute(
                select(ApiToken)
                .where(
                    ApiToken.operator_id == principal.operator_id,
                    ApiToken.revoked_at.is_(None),
                )
                .order_by(ApiToken.id.desc())
            )
        ).scalars()
        return JSONResponse({"items": [token_json(t) for t in rows], "next_cursor": None})


@declare(account_contract.REVOKE_TOKEN)
async def revoke_token(request: Request) -> Response:
    principal = await require(request)
    token_id = request.path_params["token_id"]
    async with services(request).db() as db:
        row = await db.get(ApiToken, token_id)
        if row is None or row.revoked_at is not None or row.workspace_id != principal.workspace_id:
            raise ApiError(404, "not_found", "There is no such token.")
        if row.operator_id != principal.operator_id and principal.role not in MANAGERS:
            raise ApiError(404, "not_found", "There is no such token.")
        if row.operator_id != principal.operator_id and principal.role != "owner":
            holder = await db.get(Operator, row.operator_id)
            if holder is not None and holder.role == "owner":
                raise ApiError(403, "forbidden", "Only an owner may revoke an owner's tokens.")
        row.revoked_at = utcnow()
        await audit.by_principal(db, request, principal, "token_revoked", "token", row.id)
        await db.commit()
    await announce(services(request), gone("token_revoked", "token", token_id))
    return Response(status_code=204)


routes = [
    Route("/api/signup", signup, methods=["POST"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/password", change_password, methods=["POST"]),
    Route("/api/2fa/setup", twofa_setup, methods=["POST"]),
    Route("/api/2fa/enable", twofa_enable, methods=["POST"]),
    Route("/api/2fa/disable", twofa_disable, methods=["POST"]),
    Route("/api/tokens", create_token, methods=["POST"]),
    Route("/api/tokens", list_tokens, methods=["GET"]),
    Route("/api/tokens/{token_id}", revoke_token, methods=["DELETE"]),
]
