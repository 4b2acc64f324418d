"""Teams: named groups of a workspace's operators that flows and operators route to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.model import rfc3339
from hub.store import NotFound
from storage import models as m


class UnknownOperators(ValueError):
    """Some operator ids are not live operators of this workspace."""


async def to_wire(db: AsyncSession, team: m.Team) -> dict[str, Any]:
    members = await db.scalars(
        select(m.TeamMember.operator_id)
        .where(m.TeamMember.team_id == team.id)
        .order_by(m.TeamMember.operator_id)
    )
    return {
        "id": team.id,
        "name": team.name,
        "operator_ids": list(members),
        "created_at": rfc3339(team.created_at),
    }


async def get(db: AsyncSession, workspace_id: str, team_id: str) -> m.Team:
    team = await db.get(m.Team, team_id)
    if team is None or team.workspace_id != workspace_id:
        raise NotFound(team_id)
    return team


async def list_teams(db: AsyncSession, workspace_id: str) -> list[m.Team]:
    rows = await db.scalars(
        select(m.Team).where(m.Team.workspace_id == workspace_id).order_by(m.Team.created_at)
    )
    return list(rows)


async def create(db: AsyncSession, workspace_id: str, name: str, operator_ids: list[str]) -> m.Team:
    team = m.Team(workspace_id=workspace_id, name=name)
    db.add(team)
    await db.flush()
    await set_members(db, team, operator_ids)
    return team


async def set_members(db: AsyncSession, team: m.Team, operator_ids: list[str]) -> None:
    """Replace the members; every id must be a live operator of the team's workspace."""
    wanted = sorted(set(operator_ids))
    found = set(
        await db.scalars(
            select(m.Operator.id).where(
                m.Operator.workspace_id == team.workspace_id,
                m.Operator.id.in_(wanted),
                m.Operator.deleted_at.is_(None),
            )
        )
    )
    if missing := [i for i in wanted if i not in found]:
        raise UnknownOperators(", ".join(missing))
    await db.execute(delete(m.TeamMember).where(m.TeamMember.team_id == team.id))
    db.add_all(m.TeamMember(team_id=team.id, operator_id=i) for i in wanted)
    await db.flush()
