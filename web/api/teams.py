"""Teams over HTTP: ``{name, operator_ids}``; owners and admins edit, everyone reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.store import NotFound
from storage import teams
from web import audit
from web.auth.context import MANAGERS, require
from web.contracts import teams as teams_contract
from web.errors import ApiError
from web.operation import declare

if TYPE_CHECKING:
    from web.services import Services


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "There is no such team in your workspace.")


def _team_id(request: Request) -> str:
    value = str(request.path_params["team_id"])
    if len(value) > 64:
        raise _not_found()
    return value


def _unknown(exc: teams.UnknownOperators) -> ApiError:
    return ApiError(422, "invalid", f"These are not operators of your workspace: {exc}.")


@declare(teams_contract.LIST_TEAMS)
async def list_teams(request: Request) -> Response:
    who = await require(request)
    async with _services(request).db() as db:
        items = [await teams.to_wire(db, t) for t in await teams.list_teams(db, who.workspace_id)]
    return JSONResponse({"items": items})


@declare(teams_contract.CREATE_TEAM)
async def create_team(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    body = await teams_contract.CREATE_TEAM.parse(request, teams_contract.TeamWrite)
    name, operator_ids = body.name, body.operator_ids
    try:
        async with _services(request).db() as db, db.begin():
            team = await teams.create(db, who.workspace_id, name, operator_ids)
            await audit.by_principal(db, request, who, "team_created", "team", team.id)
            wire = await teams.to_wire(db, team)
    except teams.UnknownOperators as exc:
        raise _unknown(exc) from None
    return JSONResponse(wire, status_code=201)


@declare(teams_contract.GET_TEAM)
async def get_team(request: Request) -> Response:
    who = await require(request)
    try:
        async with _services(request).db() as db:
            wire = await teams.to_wire(db, await teams.get(db, who.workspace_id, _team_id(request)))
    except NotFound:
        raise _not_found() from None
    return JSONResponse(wire)


@declare(teams_contract.UPDATE_TEAM)
async def update_team(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    body = await teams_contract.UPDATE_TEAM.parse(request, teams_contract.TeamPatch)
    try:
        async with _services(request).db() as db, db.begin():
            team = await teams.get(db, who.workspace_id, _team_id(request))
            if body.name is not UNSET:
                team.name = body.name
            if body.operator_ids is not UNSET:
                await teams.set_members(db, team, body.operator_ids)
            await audit.by_principal(db, request, who, "team_updated", "team", team.id)
            wire = await teams.to_wire(db, team)
    except NotFound:
        raise _not_found() from None
    except teams.UnknownOperators as exc:
        raise _unknown(exc) from None
    return JSONResponse(wire)


@declare(teams_contract.DELETE_TEAM)
async def delete_team(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    try:
        async with _services(request).db() as db, db.begin():
            team = await teams.get(db, who.workspace_id, _team_id(request))
            await db.delete(team)
            await audit.by_principal(db, request, who, "team_deleted", "team", team.id)
    except NotFound:
        raise _not_found() from None
    return Response(status_code=204)


routes = [
    Route("/api/teams", list_teams, methods=["GET"]),
    Route("/api/teams", create_team, methods=["POST"]),
    Route("/api/teams/{team_id}", get_team, methods=["GET"]),
    Route("/api/teams/{team_id}", update_team, methods=["PATCH"]),
    Route("/api/teams/{team_id}", delete_team, methods=["DELETE"]),
]
