"""Two-factor authentication of the signed-in operator (TOTP, with backup codes).

``POST /api/2fa/setup`` answers ``{secret, otpauth_uri, backup_codes}``; the ten backup
codes are shown once there and work only after ``/api/2fa/enable``. At login a backup code
may stand in for the ``otp``; a wrong or reused code at login answers 401 ``otp_required``.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.gone import gone
from storage.models import BackupCode, Operator
from web.api.account import (
    audit_self,
    load_account,
    services,
    session_only,
)
from web.auth import passwords, throttle, totp
from web.auth.context import require
from web.auth.sessions import (
    revoke_operator_sessions,
)
from web.contracts import account as account_contract
from web.errors import ApiError
from web.gone import announce
from web.operation import declare


@declare(account_contract.TWOFA_SETUP)
async def twofa_setup(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    session_only(principal)
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
    session_id = session_only(principal)
    code = (
        await account_contract.TWOFA_ENABLE.parse(request, account_contract.TwofaEnableBody)
    ).otp
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
        await audit_self(db, request, principal, "2fa_enabled")
        await db.commit()
    await revoke_operator_sessions(request.app, principal.operator_id, keep_session_id=session_id)
    return Response(status_code=204)


@declare(account_contract.TWOFA_DISABLE)
async def twofa_disable(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    session_only(principal)
    body = await account_contract.TWOFA_DISABLE.parse(request, account_contract.TwofaDisableBody)
    code, password = body.otp, body.password[: passwords.MAX_LENGTH]
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
        await audit_self(db, request, principal, "2fa_disabled")
        await db.commit()
    if workspace.require_2fa:  # pending now: their sockets close until 2FA is back on
        await announce(svc, gone("2fa_required", "operator", operator.id))
    return Response(status_code=204)


routes = [
    Route("/api/2fa/setup", twofa_setup, methods=["POST"]),
    Route("/api/2fa/enable", twofa_enable, methods=["POST"]),
    Route("/api/2fa/disable", twofa_disable, methods=["POST"]),
]
