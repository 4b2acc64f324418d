"""Deleting a workspace, and bringing it back within the recovery period.

A deleted workspace disappears at once for everyone (sessions end, tokens and channels stop
answering) but its data stays for ``workspace_recovery_days``, so a mistake can be undone
with ``inviaro restore-workspace``; after that, retention purges it completely.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.gone import gone
from hub.model import as_utc, utcnow
from storage.models import Operator, Session, Workspace
from web import audit
from web.auth import passwords, throttle
from web.auth.context import require
from web.contracts import workspace as workspace_contract
from web.errors import ApiError
from web.gone import announce
from web.operation import declare


@declare(workspace_contract.DELETE_API_WORKSPACE)
async def delete_workspace(request: Request) -> Response:
    principal = await require(request, roles=("owner",))
    body = await workspace_contract.DELETE_API_WORKSPACE.parse(
        request, workspace_contract.DeleteApiWorkspaceBody
    )
    password = body.password[: passwords.MAX_LENGTH]
    services = request.app.state.services
    async with services.db() as db:
        owner = await db.get(Operator, principal.operator_id)
        if owner is None or not await throttle.check_password(
            request, owner.id, owner.password_hash, password
        ):
            raise ApiError(403, "forbidden", "Confirm the deletion with your password.")
        workspace = await db.get(Workspace, principal.workspace_id)
        if workspace is None or workspace.deleted_at is not None:
            raise ApiError(404, "not_found", "The workspace is gone.")
        workspace.deleted_at = utcnow()
        await audit.by_principal(
            db, request, principal, "workspace_deleted", "workspace", workspace.id
        )
        operators = select(Operator.id).where(Operator.workspace_id == workspace.id)
        await db.execute(
            update(Session)
            .where(Session.operator_id.in_(operators), Session.revoked_at.is_(None))
            .values(revoked_at=workspace.deleted_at)
        )
        await db.commit()
    # Every socket of the workspace closes on every process: operators' (cookie or token)
    # and visitors'. Its tokens, channels, webhooks, ingest and widget refuse from now on.
    await announce(services, gone("workspace_deleted", "workspace", principal.workspace_id))
    return Response(status_code=204)


def recovery_ends(settings: Any, workspace: Workspace) -> datetime | None:
    """Until when a deleted ``workspace`` may be restored; None when that time is past."""
    if workspace.deleted_at is None:
        return None
    ends = as_utc(workspace.deleted_at) + timedelta(days=settings.workspace_recovery_days)
    return ends if ends > utcnow() else None


async def restore_workspace(
    db: AsyncSession, workspace_id: str, recovery_days: int, *, by: str | None = None
) -> str:
    """Undo a deletion still within the recovery period; returns the workspace's name.

    ``by``: the owner who restored it signing in (the CLI's restore is the system's).
    Raises ValueError with a sentence when there is nothing to restore."""
    workspace = await db.get(Workspace, workspace_id)
    if workspace is None:
        raise ValueError(f"There is no workspace {workspace_id} (any more).")
    if workspace.deleted_at is None:
        raise ValueError(f"Workspace {workspace_id} is not deleted.")
    if utcnow() - as_utc(workspace.deleted_at) > timedelta(days=recovery_days):
        raise ValueError(f"Workspace {workspace_id} was deleted over {recovery_days} days ago.")
    workspace.deleted_at = None
    await audit.record(
        db,
        workspace_id=workspace.id,
        actor_kind="operator" if by else "system",
        actor_id=by,
        action="workspace_restored",
        target_kind="workspace",
        target_id=workspace.id,
    )
    return workspace.name


routes = [Route("/api/workspace", delete_workspace, methods=["DELETE"])]
