"""Password reset by email, and reset links an admin hands over.

``POST /api/password-reset {email}`` answers 202 with the same sentence whatever the email:
the lookup, the link and the mail happen after the answer is sent (a background task), so
neither the answer nor its timing says whether the address has an account. Only an active
operator of a live workspace gets a mail, and only when mail is configured.

``POST /api/password-reset/confirm {token, password, otp?}`` sets the new password (the
TOTP or a backup code is required when the operator has 2FA), spends the link, ends every
session of the operator and revokes their API tokens (their sockets close): a reset is
what someone does whose password leaked, and tokens made with a stolen password must not
outlive it. Wrong codes spend the operator's password budget, as a wrong password does
when signed in.

``POST /api/operators/{id}/reset-link`` (owners and admins; an owner's link only by an
owner) answers a link to copy, for servers without mail.
"""

from __future__ import annotations

import logging

import msgspec
from sqlalchemy import select, update
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import rfc3339
from storage.models import Operator, Workspace
from web import audit, limits, mail
from web.api.account import services
from web.auth import links, passwords, totp
from web.auth.accounts import normalize_email
from web.auth.context import MANAGERS, require
from web.auth.sessions import end_operator_access
from web.config import Settings
from web.contracts import invites as invites_contract
from web.contracts.invites import ResetLinkOut
from web.errors import ApiError
from web.operation import declare

log = logging.getLogger("inviaro.password_reset")

ANSWER = "If an account uses this address, a link to set a new password is on its way."


def reset_mail(settings: Settings, url: str) -> str:
    minutes = max(1, settings.reset_ttl_s // 60)
    return (
        "Someone asked to set a new password for your Inviaro account.\n\n"
        f"Open this link to choose a new password:\n{url}\n\n"
        f"The link works once, for {minutes} minutes. Setting a new password signs you out "
        "everywhere and revokes your API tokens. If you did not ask for this, ignore this "
        "mail: your password stays as it is.\n"
    )


@declare(invites_contract.REQUEST_PASSWORD_RESET)
async def request_reset(request: Request) -> Response:
    links.refuse_cross_site(request)
    body = await invites_contract.REQUEST_PASSWORD_RESET.parse(
        request, invites_contract.ResetRequest
    )
    email = normalize_email(body.email)
    if email is None:
        raise ApiError(422, "invalid", "The field 'email' is not an email address.")
    await limits.password_reset(request, email)
    ip = limits.client_address(request)
    task = BackgroundTask(_send_reset, request.app, email, ip)
    return JSONResponse({"detail": ANSWER}, status_code=202, background=task)


async def _send_reset(app: object, email: str, ip: str) -> None:
    """After the answer: a link and a mail for an active operator; nothing otherwise."""
    svc = app.state.services  # type: ignore[attr-defined]
    settings: Settings = svc.settings
    try:
        async with svc.db() as db:
            row = (
                await db.execute(
                    select(Operator, Workspace)
                    .join(Workspace, Workspace.id == Operator.workspace_id)
                    .where(Operator.email == email)
                )
            ).first()
            if row is None or not settings.mail_configured:
                return
            operator, workspace = row
            if operator.disabled or operator.deleted_at or workspace.deleted_at:
                return
            _, url = await links.issue(
                db,
                settings,
                "reset",
                workspace_id=workspace.id,
                created_by=operator.id,
                operator_id=operator.id,
            )
            await audit.record(
                db,
                workspace_id=workspace.id,
                actor_kind="anonymous",
                actor_id=None,
                action="password_reset_requested",
                target_kind="operator",
                target_id=operator.id,
                ip=ip,
            )
            await db.commit()
        await mail.send(settings, email, "Set a new Inviaro password", reset_mail(settings, url))
    except mail.MailError:
        pass  # logged by web.mail, by class only
    except Exception:
        log.exception("a password-reset mail could not be prepared")


@declare(invites_contract.CONFIRM_PASSWORD_RESET)
async def confirm_reset(request: Request) -> Response:
    links.refuse_cross_site(request)
    body = await invites_contract.CONFIRM_PASSWORD_RESET.parse(
        request, invites_contract.ResetConfirm
    )
    await limits.account_link(request)
    svc = services(request)
    async with svc.db() as db:
        try:
            _, _, found = await links.find(db, "reset", body.token)
        except links.LinkUnusable as exc:
            raise ApiError(410, "link_unusable", str(exc)) from None
        await db.commit()
    assert found is not None
    operator = found
    if operator.totp_enabled:
        await _check_second_factor(request, operator, body.otp)
    password_hash = await passwords.hash_password(body.password)
    async with svc.db() as db:
        try:
            link, _, _ = await links.find(db, "reset", body.token)
            await links.use(db, link)
        except links.LinkUnusable as exc:
            raise ApiError(410, "link_unusable", str(exc)) from None
        await db.execute(
            update(Operator).where(Operator.id == operator.id).values(password_hash=password_hash)
        )
        await audit.by_operator(db, request, operator, "password_reset", "operator", operator.id)
        await db.commit()
    await end_operator_access(request.app, operator.id, "password_changed", revoke_tokens=True)
    return Response(status_code=204)


async def _check_second_factor(request: Request, operator: Operator, otp: str | None) -> None:
    if not otp:
        raise ApiError(
            422, "otp_required", "Enter the code from your authenticator app (or a backup code)."
        )
    settings = services(request).settings
    budget = limits.Budget("password", settings.limit_password_checks, (operator.id,))
    await limits.take(request, budget, detail="Too many wrong codes.")
    async with services(request).db() as db:
        ok = await totp.check_second_factor(db, settings, operator, otp)
        await db.commit()
    if not ok:
        raise ApiError(422, "invalid_otp", "That code is wrong or was already used.")
    await limits.give_back(request, budget)


@declare(invites_contract.CREATE_RESET_LINK)
async def reset_link(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    svc = services(request)
    async with svc.db() as db:
        operator = await db.get(Operator, request.path_params["operator_id"])
        if (
            operator is None
            or operator.workspace_id != principal.workspace_id
            or operator.deleted_at is not None
        ):
            raise ApiError(404, "not_found", "There is no such operator.")
        if operator.role == "owner" and principal.role != "owner":
            raise ApiError(403, "forbidden", "Only an owner may reset an owner's password.")
        if operator.disabled:
            raise ApiError(409, "operator_disabled", "Enable the operator first.")
        link, url = await links.issue(
            db,
            svc.settings,
            "reset",
            workspace_id=principal.workspace_id,
            created_by=principal.operator_id,
            operator_id=operator.id,
        )
        await audit.by_principal(
            db, request, principal, "password_reset_link_created", "operator", operator.id
        )
        await db.commit()
    out = ResetLinkOut(url=url, expires_at=rfc3339(link.expires_at))
    return JSONResponse(msgspec.to_builtins(out), status_code=201)


routes = [
    Route("/api/password-reset", request_reset, methods=["POST"]),
    Route("/api/password-reset/confirm", confirm_reset, methods=["POST"]),
    Route("/api/operators/{operator_id}/reset-link", reset_link, methods=["POST"]),
]
