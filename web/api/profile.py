"""The signed-in operator's own profile: their name, and the browsers signed in as them.

``PATCH /api/me {name}`` renames oneself (any role). ``GET /api/me/sessions`` lists the
live sessions (``current`` marks this browser's); ``POST /api/me/sessions/end-others``
signs out everywhere else (their sockets close) and ``DELETE /api/me/sessions/{id}`` ends
one. Only sessions are listed: API tokens have their own list (``/api/tokens``).
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import rfc3339, utcnow
from storage.models import Operator, Session
from web import audit
from web.api.account import operator_json, services
from web.auth.context import Principal, require
from web.auth.sessions import revoke_operator_sessions, revoke_session
from web.contracts import profile as profile_contract
from web.contracts.profile import SessionOut
from web.errors import ApiError
from web.operation import declare


def _session_only(principal: Principal) -> str:
    if principal.session_id is None:
        raise ApiError(403, "session_required", "Do this signed in, not with an API token.")
    return principal.session_id


@declare(profile_contract.PATCH_ME)
async def patch_me(request: Request) -> Response:
    principal = await require(request)
    body = await profile_contract.PATCH_ME.parse(request, profile_contract.ProfilePatch)
    async with services(request).db() as db:
        await db.execute(
            update(Operator).where(Operator.id == principal.operator_id).values(name=body.name)
        )
        await audit.by_principal(
            db, request, principal, "profile_updated", "operator", principal.operator_id
        )
        await db.commit()
        operator = await db.get(Operator, principal.operator_id)
        assert operator is not None
        return JSONResponse(operator_json(operator))


@declare(profile_contract.LIST_MY_SESSIONS)
async def list_sessions(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    now = utcnow()
    async with services(request).db() as db:
        rows = (
            await db.execute(
                select(Session)
                .where(
                    Session.operator_id == principal.operator_id,
                    Session.revoked_at.is_(None),
                    Session.expires_at > now,
                )
                .order_by(Session.last_seen_at.desc(), Session.id)
            )
        ).scalars()
        items: list[Any] = [
            msgspec.to_builtins(
                SessionOut(
                    id=s.id,
                    created_at=rfc3339(s.created_at),
                    last_seen_at=rfc3339(s.last_seen_at),
                    ip=s.ip,
                    current=s.id == principal.session_id,
                )
            )
            for s in rows
        ]
    return JSONResponse({"items": items, "next_cursor": None})


@declare(profile_contract.END_OTHER_SESSIONS)
async def end_other_sessions(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    current = _session_only(principal)
    ended = await revoke_operator_sessions(
        request.app, principal.operator_id, keep_session_id=current
    )
    async with services(request).db() as db:
        await audit.by_principal(
            db, request, principal, "other_sessions_ended", "operator", principal.operator_id
        )
        await db.commit()
    return JSONResponse({"ended": ended})


@declare(profile_contract.END_MY_SESSION)
async def end_session(request: Request) -> Response:
    principal = await require(request, allow_pending_2fa=True)
    session_id = str(request.path_params["session_id"])[:40]
    async with services(request).db() as db:
        row = await db.get(Session, session_id)
        if row is None or row.operator_id != principal.operator_id or row.revoked_at is not None:
            raise ApiError(404, "not_found", "There is no such session.")
    await revoke_session(request.app, principal.operator_id, session_id)
    async with services(request).db() as db:
        await audit.by_principal(db, request, principal, "session_ended", "session", session_id)
        await db.commit()
    return Response(status_code=204)


routes = [
    Route("/api/me", patch_me, methods=["PATCH"]),
    Route("/api/me/sessions", list_sessions, methods=["GET"]),
    Route("/api/me/sessions/end-others", end_other_sessions, methods=["POST"]),
    Route("/api/me/sessions/{session_id}", end_session, methods=["DELETE"]),
]
