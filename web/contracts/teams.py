"""The teams routes: their bodies and their declarations."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.operation import FORBIDDEN, NOT_FOUND, UNAUTHORIZED, WRITE, Answer, Fault, Operation, Param


class Team(msgspec.Struct):
    id: str
    name: str
    operator_ids: list[str]
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class ListTeamsReply(msgspec.Struct):
    items: list[Team]


TeamName = Annotated[str, Meta(min_length=1, max_length=200)]
OperatorIds = Annotated[
    list[Annotated[str, Meta(min_length=1, max_length=64)]],
    Meta(max_length=500, description="Operators of the workspace; replaces the members."),
]


class TeamWrite(msgspec.Struct):
    """A new team: its name and, optionally, its members."""

    name: TeamName
    operator_ids: OperatorIds = []


class TeamPatch(msgspec.Struct):
    """What to change in a team; a field left out stays as it is."""

    name: TeamName | UnsetType = UNSET
    operator_ids: OperatorIds | UnsetType = UNSET


# GET /api/teams
LIST_TEAMS = Operation(
    method="get",
    operation_id="listTeams",
    summary="The workspace's teams",
    tags=("teams",),
    answers={200: Answer("The teams.", body=ListTeamsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# POST /api/teams
CREATE_TEAM = Operation(
    method="post",
    operation_id="createTeam",
    summary="Create a team (owners and admins)",
    tags=("teams",),
    security=WRITE,
    body=TeamWrite,
    answers={201: Answer("The team.", body=Team)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(
            422,
            "invalid",
            "Invalid fields, or operator ids that are not the workspace's operators.",
        ),
    ),
)


# GET /api/teams/{team_id}
GET_TEAM = Operation(
    method="get",
    operation_id="getTeam",
    summary="One team",
    tags=("teams",),
    params=(Param("team_id", where="path", required=True),),
    answers={200: Answer("The team.", body=Team)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# PATCH /api/teams/{team_id}
UPDATE_TEAM = Operation(
    method="patch",
    operation_id="updateTeam",
    summary="Rename a team or replace its members",
    tags=("teams",),
    security=WRITE,
    body=TeamPatch,
    params=(Param("team_id", where="path", required=True),),
    answers={200: Answer("The team.", body=Team)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(
            422,
            "invalid",
            "Invalid fields, or operator ids that are not the workspace's operators.",
        ),
    ),
)


# DELETE /api/teams/{team_id}
DELETE_TEAM = Operation(
    method="delete",
    operation_id="deleteTeam",
    summary="Delete a team (its conversations keep no team)",
    tags=("teams",),
    security=WRITE,
    params=(Param("team_id", where="path", required=True),),
    answers={204: Answer("Deleted.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)
