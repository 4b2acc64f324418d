"""Signing in and out: sign-up, login, logout, ``/api/me`` and the password.

When the workspace requires 2FA, an operator without it may still log in; ``/api/me`` then
reports ``must_enable_2fa: true`` and every other API call answers 403 ``2fa_required``
until 2FA is enabled.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import rfc3339
from storage.models import Operator, Workspace
from web import audit, limits
from web.api.account import (
    account_json,
    audit_self,
    email_address,
    insert_operator,
    load_account,
    services,
    session_only,
    signed_in,
)
from web.auth import passwords, throttle, totp
from web.auth.context import client_ip, require
from web.auth.sessions import (
    clear_session_cookie,
    cookie_name,
    end_operator_access,
    lookup_session,
    revoke_session,
)
from web.contracts import account as account_contract
from web.errors import ApiError
from web.operation import declare


@declare(account_contract.SIGNUP)
async def signup(request: Request) -> Response:
    body = await account_contract.SIGNUP.parse(request, account_contract.SignupBody)
    workspace_name, name, password = body.workspace, body.name, body.password
    email = email_address(body.email)
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
        return await signed_in(request, db, operator, workspace, 201)


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
    body = await account_contract.LOGIN.parse(request, account_contract.LoginBody)
    email = body.email.lower()
    password = body.password[: passwords.MAX_LENGTH]
    otp = body.otp or None
    restore = body.restore_workspace
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
        if workspace is not None and workspace.deleted_at is not None:
            await deleted_workspace_door(db, request, operator, workspace, restore=restore)
        if workspace is None or workspace.deleted_at is not None:
            raise ApiError(401, "invalid_credentials", "The email or password is wrong.")
        if new_hash is not None:
            await db.execute(
                update(Operator).where(Operator.id == operator.id).values(password_hash=new_hash)
            )
        await audit.by_operator(db, request, operator, "login", "operator", operator.id)
        return await signed_in(request, db, operator, workspace, 200)


async def deleted_workspace_door(
    db: AsyncSession, request: Request, operator: Operator, workspace: Workspace, *, restore: bool
) -> None:
    """The owner of a workspace deleted within the recovery period, signing in with the right
    password (and code), may restore it: with ``restore_workspace: true`` it is restored and
    the sign-in goes on; without, 403 ``workspace_deleted`` says so. Anyone else, or past
    the period, is answered as a wrong password (401)."""
    from web.api.workspace_lifecycle import recovery_ends, restore_workspace

    ends = recovery_ends(services(request).settings, workspace)
    if operator.role != "owner" or ends is None:
        return
    if not restore:
        raise ApiError(
            403,
            "workspace_deleted",
            f"The workspace {workspace.name} was deleted. As its owner you can restore it "
            f"until {ends:%d %B %Y}.",
            extra={"restorable_until": rfc3339(ends)},
        )
    await restore_workspace(
        db, workspace.id, services(request).settings.workspace_recovery_days, by=operator.id
    )
    await db.flush()


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
    session_id = session_only(principal)
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
    session_only(principal)
    body = await account_contract.CHANGE_PASSWORD.parse(
        request, account_contract.ChangePasswordBody
    )
    current, new = body.current_password, body.new_password
    svc = services(request)
    async with svc.db() as db:
        operator, workspace = await load_account(db, principal.operator_id)
        await db.commit()
    if not await throttle.check_password(
        request, operator.id, operator.password_hash, current[: passwords.MAX_LENGTH]
    ):
        raise ApiError(422, "invalid_password", "The current password is wrong.")
    new_hash = await passwords.hash_password(new)
    async with svc.db() as db:
        await db.execute(
            update(Operator).where(Operator.id == operator.id).values(password_hash=new_hash)
        )
        await audit_self(db, request, principal, "password_changed")
        await db.commit()
    # As after a compromise: every session and API token ends, and with them every socket.
    await end_operator_access(request.app, operator.id, "password_changed", revoke_tokens=True)
    async with svc.db() as db:
        return await signed_in(request, db, operator, workspace, 200)


routes = [
    Route("/api/signup", signup, methods=["POST"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/password", change_password, methods=["POST"]),
]
