"""Invitations: an owner or admin invites someone by email; the invitee opens the link,
picks a name and a password, and joins the workspace with the role given.

``POST /api/invites {email, role}`` answers the link in ``url`` whether or not it was
mailed (``mailed`` says which), so without mail an admin copies it from Settings. The link
works once and expires after ``INVIARO_INVITE_TTL_S`` (7 days). ``GET /api/invites`` lists
the pending ones and ``DELETE /api/invites/{id}`` withdraws one.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import rfc3339, utcnow
from storage.models import AccountLink, Operator
from web import audit, limits, mail
from web.api.account import insert_operator, load_account, services, signed_in
from web.auth import links, passwords
from web.auth.accounts import normalize_email
from web.auth.context import MANAGERS, require
from web.config import Settings
from web.contracts import invites as invites_contract
from web.contracts.invites import InviteOut
from web.errors import ApiError
from web.operation import declare

log = logging.getLogger("inviaro.invites")


def invite_json(link: AccountLink, url: str | None = None, mailed: bool | None = None) -> Any:
    return msgspec.to_builtins(
        InviteOut(
            id=link.id,
            email=link.email or "",
            role=link.role or "agent",
            expires_at=rfc3339(link.expires_at),
            created_at=rfc3339(link.created_at),
            url=url,
            mailed=mailed,
        ),
        order="deterministic",
    )


def invite_mail(settings: Settings, workspace_name: str, inviter: str, url: str) -> str:
    days = max(1, settings.invite_ttl_s // 86400)
    return (
        f"{inviter} invited you to answer customers with the team of {workspace_name} "
        "on Inviaro.\n\n"
        f"Open this link to choose your name and password:\n{url}\n\n"
        f"The link works once, for {days} day{'s' if days != 1 else ''}. "
        "If you did not expect this invitation, ignore this mail.\n"
    )


async def _mail_invite(settings: Settings, to: str, workspace: str, inviter: str, url: str) -> bool:
    if not settings.mail_configured:
        return False
    try:
        await mail.send(
            settings,
            to,
            f"Join {workspace} on Inviaro",
            invite_mail(settings, workspace, inviter, url),
        )
    except mail.MailError:
        return False
    return True


@declare(invites_contract.CREATE_INVITE)
async def create_invite(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    body = await invites_contract.CREATE_INVITE.parse(request, invites_contract.NewInvite)
    email = normalize_email(body.email)
    if email is None:
        raise ApiError(422, "invalid", "The field 'email' is not an email address.")
    if body.role == "owner" and principal.role != "owner":
        raise ApiError(403, "forbidden", "Only an owner may invite an owner.")
    svc = services(request)
    async with svc.db() as db:
        if await db.scalar(select(Operator.id).where(Operator.email == email)):
            raise ApiError(409, "email_taken", "An operator with this email already exists.")
        link, url = await links.issue(
            db,
            svc.settings,
            "invite",
            workspace_id=principal.workspace_id,
            created_by=principal.operator_id,
            email=email,
            role=body.role,
        )
        await audit.by_principal(db, request, principal, "invite_created", "invite", link.id)
        await db.commit()
        inviter, workspace = principal.account or await load_account(db, principal.operator_id)
    mailed = await _mail_invite(svc.settings, email, workspace.name, inviter.name, url)
    return JSONResponse(invite_json(link, url, mailed), status_code=201)


@declare(invites_contract.LIST_INVITES)
async def list_invites(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    async with services(request).db() as db:
        rows = (
            await db.execute(
                select(AccountLink)
                .where(
                    AccountLink.workspace_id == principal.workspace_id,
                    AccountLink.purpose == "invite",
                    AccountLink.used_at.is_(None),
                    AccountLink.expires_at > utcnow(),
                )
                .order_by(AccountLink.created_at.desc(), AccountLink.id)
            )
        ).scalars()
        return JSONResponse({"items": [invite_json(r) for r in rows], "next_cursor": None})


@declare(invites_contract.WITHDRAW_INVITE)
async def withdraw_invite(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    async with services(request).db() as db:
        link = await db.get(AccountLink, request.path_params["invite_id"])
        if (
            link is None
            or link.purpose != "invite"
            or link.workspace_id != principal.workspace_id
            or link.used_at is not None
        ):
            raise ApiError(404, "not_found", "There is no such pending invitation.")
        link.used_at = utcnow()  # spent: the link stops working
        await audit.by_principal(db, request, principal, "invite_withdrawn", "invite", link.id)
        await db.commit()
    return Response(status_code=204)


@declare(invites_contract.ACCEPT_INVITE)
async def accept_invite(request: Request) -> Response:
    """The invitee's own answer: a new operator signed in on this browser (201)."""
    links.refuse_cross_site(request)
    body = await invites_contract.ACCEPT_INVITE.parse(request, invites_contract.AcceptInvite)
    await limits.account_link(request)
    svc = services(request)
    async with svc.db() as db:
        try:
            await links.find(db, "invite", body.token)
        except links.LinkUnusable as exc:
            raise ApiError(410, "link_unusable", str(exc)) from None
        await db.commit()
    password_hash = await passwords.hash_password(body.password)  # no transaction open
    async with svc.db() as db:
        try:
            link, workspace, _ = await links.find(db, "invite", body.token)
            await links.use(db, link)
        except links.LinkUnusable as exc:
            raise ApiError(410, "link_unusable", str(exc)) from None
        operator = Operator(
            workspace_id=workspace.id,
            email=link.email or "",
            name=body.name,
            password_hash=password_hash,
            role=link.role or "agent",
        )
        await insert_operator(db, operator)
        await audit.by_operator(db, request, operator, "invite_accepted", "invite", link.id)
        return await signed_in(request, db, operator, workspace, 201)


routes = [
    Route("/api/invites", create_invite, methods=["POST"]),
    Route("/api/invites", list_invites, methods=["GET"]),
    Route("/api/invites/accept", accept_invite, methods=["POST"]),
    Route("/api/invites/{invite_id}", withdraw_invite, methods=["DELETE"]),
]
