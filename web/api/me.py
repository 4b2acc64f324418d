"""The operator's own data: ``GET /api/me/export``; and an owner deleting an operator.

Operators are data subjects too. The export is one JSON document of what the hub holds
about the signed-in operator (:func:`storage.operator_data.export_operator`). Deleting an
account (``DELETE /api/operators/{id}``, owners only, never oneself) keeps the operator's
messages, attributed to "former operator", and ends every session, token and socket.
Both are audited.
"""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.store import NotFound
from storage import operator_data
from web import audit
from web.auth.context import require
from web.auth.sessions import revoke_operator_sessions
from web.contracts import account as account_contract
from web.contracts import admin as admin_contract
from web.errors import ApiError
from web.operation import declare

log = logging.getLogger("inviaro.me")


@declare(account_contract.EXPORT_ME)
async def export_me(request: Request) -> Response:
    who = await require(request, allow_pending_2fa=True)
    async with request.app.state.services.db() as db, db.begin():
        try:
            document = await operator_data.export_operator(
                await db.connection(), who.workspace_id, who.operator_id
            )
        except NotFound:
            raise ApiError(401, "unauthorized", "Sign in again.") from None
        await audit.by_principal(
            db, request, who, "operator_data_exported", "operator", who.operator_id
        )
    return Response(
        orjson.dumps(document, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="my-data-{who.operator_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@declare(admin_contract.DELETE_OPERATOR)
async def delete_operator(request: Request) -> Response:
    who = await require(request, roles=("owner",))
    operator_id = str(request.path_params["operator_id"])[:64]
    if operator_id == who.operator_id:
        raise ApiError(403, "forbidden", "You may not delete your own account here.")
    async with request.app.state.services.db() as db, db.begin():
        try:
            deletion = await operator_data.delete_operator(
                await db.connection(), who.workspace_id, operator_id
            )
        except NotFound:
            raise ApiError(404, "not_found", "There is no such operator.") from None
        await audit.by_principal(db, request, who, "operator_deleted", "operator", operator_id)
    log.info(
        "operator deleted: %d messages kept as former operator, %d sessions and %d tokens ended",
        deletion.messages,
        deletion.sessions,
        deletion.tokens,
    )
    await revoke_operator_sessions(request.app, operator_id)  # closes this process's sockets
    return Response(status_code=204)


routes = [
    Route("/api/me/export", export_me, methods=["GET"]),
    Route("/api/operators/{operator_id}", delete_operator, methods=["DELETE"]),
]
