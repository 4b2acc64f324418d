"""Canned responses: saved replies an operator inserts by typing ``/`` and a shortcut.

Workspace-wide ones (``personal: false``) are written by owners and admins and offered to
everyone; personal ones belong to the operator who wrote them and only they see them.
A shortcut is unique within its scope (the workspace's list, or one operator's list).
The text may hold ``{{contact.name}}``, ``{{contact.email}}``, ``{{contact.phone}}`` and
``{{operator.name}}``; the inbox fills them in at insertion, a missing value as nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import rfc3339, utcnow
from storage import models as m
from web.auth.context import MANAGERS, Principal, require
from web.contracts import canned_responses as canned_responses_contract
from web.errors import ApiError
from web.operation import declare
from web.schema import parse_body

MAX_PER_WORKSPACE = 1000


def _wire(row: m.CannedResponse) -> dict[str, Any]:
    return {
        "id": row.id,
        "shortcut": row.shortcut,
        "text": row.text,
        "personal": row.operator_id is not None,
        "operator_id": row.operator_id,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    }


def _visible(principal: Principal) -> Any:
    """The workspace's shared responses and this operator's own."""
    return (m.CannedResponse.workspace_id == principal.workspace_id) & or_(
        m.CannedResponse.operator_id.is_(None),
        m.CannedResponse.operator_id == principal.operator_id,
    )


def _may_write(principal: Principal, personal: bool) -> None:
    if not personal and principal.role not in MANAGERS:
        raise ApiError(
            403, "forbidden", "Only owners and admins may change workspace-wide responses."
        )


async def _check_free(
    session: AsyncSession, principal: Principal, shortcut: str, owner: str | None, but: str = ""
) -> None:
    """409 when the shortcut is taken in the same scope (the workspace's, or the operator's)."""
    scope = (
        m.CannedResponse.operator_id.is_(None)
        if owner is None
        else m.CannedResponse.operator_id == owner
    )
    taken = await session.scalar(
        select(m.CannedResponse.id).where(
            m.CannedResponse.workspace_id == principal.workspace_id,
            scope,
            m.CannedResponse.shortcut == shortcut,
            m.CannedResponse.id != but,
        )
    )
    if taken is not None:
        raise ApiError(409, "shortcut_taken", f"The shortcut /{shortcut} is already in use.")


async def _mine(session: AsyncSession, principal: Principal, canned_id: str) -> m.CannedResponse:
    row = await session.get(m.CannedResponse, canned_id)
    if row is None or row.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", "There is no such canned response.")
    if row.operator_id is not None and row.operator_id != principal.operator_id:
        raise ApiError(404, "not_found", "There is no such canned response.")
    _may_write(principal, row.operator_id is not None)
    return row


@declare(canned_responses_contract.LIST_CANNED_RESPONSES)
async def list_canned(request: Request) -> Response:
    """Shared and personal responses, by shortcut."""
    principal = await require(request)
    async with request.app.state.services.db() as session:
        rows = await session.scalars(
            select(m.CannedResponse)
            .where(_visible(principal))
            .order_by(m.CannedResponse.shortcut, m.CannedResponse.id)
        )
        return JSONResponse({"items": [_wire(r) for r in rows]})


@declare(canned_responses_contract.CREATE_CANNED_RESPONSE)
async def create_canned(request: Request) -> Response:
    principal = await require(request)
    body = await parse_body(request, canned_responses_contract.NewCanned)
    _may_write(principal, body.personal)
    owner = principal.operator_id if body.personal else None
    async with request.app.state.services.db() as session, session.begin():
        await _check_free(session, principal, body.shortcut, owner)
        count = await session.scalar(
            select(m.CannedResponse.id)
            .where(m.CannedResponse.workspace_id == principal.workspace_id)
            .offset(MAX_PER_WORKSPACE)
            .limit(1)
        )
        if count is not None:
            raise ApiError(422, "invalid", f"A workspace holds at most {MAX_PER_WORKSPACE}.")
        now = utcnow()
        row = m.CannedResponse(
            workspace_id=principal.workspace_id,
            operator_id=owner,
            shortcut=body.shortcut,
            text=body.text,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        return JSONResponse(_wire(row), status_code=201)


@declare(canned_responses_contract.UPDATE_CANNED_RESPONSE)
async def update_canned(request: Request) -> Response:
    principal = await require(request)
    body = await parse_body(request, canned_responses_contract.CannedPatch)
    async with request.app.state.services.db() as session, session.begin():
        row = await _mine(session, principal, request.path_params["id"])
        if body.shortcut is not None and body.shortcut != row.shortcut:
            await _check_free(session, principal, body.shortcut, row.operator_id, but=row.id)
            row.shortcut = body.shortcut
        if body.text is not None:
            row.text = body.text
        row.updated_at = datetime.now(row.created_at.tzinfo)
        await session.flush()
        return JSONResponse(_wire(row))


@declare(canned_responses_contract.DELETE_CANNED_RESPONSE)
async def delete_canned(request: Request) -> Response:
    principal = await require(request)
    async with request.app.state.services.db() as session, session.begin():
        await session.delete(await _mine(session, principal, request.path_params["id"]))
    return Response(status_code=204)


routes = [
    Route("/api/canned-responses", list_canned, methods=["GET"]),
    Route("/api/canned-responses", create_canned, methods=["POST"]),
    Route("/api/canned-responses/{id}", update_canned, methods=["PATCH"]),
    Route("/api/canned-responses/{id}", delete_canned, methods=["DELETE"]),
]
