"""API tokens of the signed-in operator: bearer tokens for integrations (no CSRF token)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.gone import gone
from hub.model import rfc3339, utcnow
from storage.models import ApiToken, Operator
from web import audit
from web.api.account import (
    services,
    session_only,
)
from web.auth.context import MANAGERS, require
from web.contracts import account as account_contract
from web.crypto import random_token, sha256_hex
from web.errors import ApiError
from web.gone import announce
from web.operation import declare


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
    session_only(principal)
    name = (
        await account_contract.CREATE_TOKEN.parse(request, account_contract.CreateTokenBody)
    ).name
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
    Route("/api/tokens", create_token, methods=["POST"]),
    Route("/api/tokens", list_tokens, methods=["GET"]),
    Route("/api/tokens/{token_id}", revoke_token, methods=["DELETE"]),
]
