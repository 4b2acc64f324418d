"""Legal holds for owners: ``GET/POST /api/legal-holds``, ``DELETE /api/legal-holds/{id}``.

A hold keeps the workspace's audit and security log entries of ``[from, to)`` past their
retention until it is lifted (:mod:`storage.legal_hold`). Placing and lifting are audited
in the same transaction. The server admin places holds over every workspace from the
command line (``inviaro legal-hold``); those are not listed here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.store import NotFound
from storage import legal_hold
from web import audit
from web.auth.context import require
from web.contracts import admin as admin_contract
from web.errors import ApiError
from web.operation import declare

OWNERS = ("owner",)


@declare(admin_contract.LIST_LEGAL_HOLDS)
async def list_holds(request: Request) -> Response:
    who = await require(request, roles=OWNERS)
    async with request.app.state.services.db() as db:
        items = await legal_hold.list_holds(await db.connection(), who.workspace_id)
    return JSONResponse({"items": items, "next_cursor": None})


@declare(admin_contract.PLACE_LEGAL_HOLD)
async def place_hold(request: Request) -> Response:
    who = await require(request, roles=OWNERS)
    body = await admin_contract.PLACE_LEGAL_HOLD.parse(request, admin_contract.PlaceLegalHoldBody)
    async with request.app.state.services.db() as db, db.begin():
        try:
            hold = await legal_hold.place(
                await db.connection(),
                who.workspace_id,
                body.from_,
                body.to,
                body.reason,
                who.operator_id,
            )
        except legal_hold.InvalidHold as exc:
            raise ApiError(422, "invalid", str(exc)) from None
        await audit.by_principal(db, request, who, "legal_hold_placed", "legal_hold", hold["id"])
    return JSONResponse(hold, status_code=201)


@declare(admin_contract.LIFT_LEGAL_HOLD)
async def lift_hold(request: Request) -> Response:
    who = await require(request, roles=OWNERS)
    hold_id = str(request.path_params["hold_id"])[:64]
    async with request.app.state.services.db() as db, db.begin():
        try:
            await legal_hold.lift(await db.connection(), who.workspace_id, hold_id, who.operator_id)
        except NotFound:
            raise ApiError(404, "not_found", "There is no such active legal hold.") from None
        await audit.by_principal(db, request, who, "legal_hold_lifted", "legal_hold", hold_id)
    return Response(status_code=204)


routes = [
    Route("/api/legal-holds", list_holds, methods=["GET"]),
    Route("/api/legal-holds", place_hold, methods=["POST"]),
    Route("/api/legal-holds/{hold_id}", lift_hold, methods=["DELETE"]),
]
