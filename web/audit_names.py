"""Names for the ids in audit entries, looked up when the log is read.

Entries keep ids only (web/audit.py): a renamed channel shows its current name, an erased
contact shows "erased contact", a deleted operator "former operator". One query per kind
of id on the page, scoped to the workspace, so another workspace's names never show.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AccountLink,
    ApiToken,
    AuditEntry,
    Channel,
    Contact,
    Flow,
    Operator,
    Team,
    Workspace,
)

# kind → (model, name column, what a vanished one is called)
_SOURCES: dict[str, tuple[Any, Any, str]] = {
    "operator": (Operator, Operator.name, "former operator"),
    "channel": (Channel, Channel.name, "deleted channel"),
    "contact": (Contact, Contact.name, "erased contact"),
    "team": (Team, Team.name, "deleted team"),
    "token": (ApiToken, ApiToken.name, "revoked token"),
    "flow": (Flow, Flow.name, "deleted flow"),
}

Names = dict[tuple[str, str], str]


async def names_for(db: AsyncSession, workspace_id: str, entries: Iterable[AuditEntry]) -> Names:
    """``(kind, id) → name`` for every actor and target of ``entries`` that has one."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.actor_id and entry.actor_kind in ("operator", "token"):
            wanted["operator"].add(entry.actor_id)  # a token acts as its operator
        if entry.target_kind and entry.target_id:
            wanted[entry.target_kind].add(entry.target_id)
    names: Names = {}
    for kind, ids in wanted.items():
        if kind == "workspace":
            workspace = await db.get(Workspace, workspace_id)
            if workspace is not None:
                names.update({(kind, i): workspace.name for i in ids if i == workspace_id})
            continue
        if kind == "invite":  # named by role, never by the invitee's email
            roles = await db.execute(
                select(AccountLink.id, AccountLink.role).where(
                    AccountLink.id.in_(ids), AccountLink.workspace_id == workspace_id
                )
            )
            names.update({(kind, i): f"invitation as {role or 'agent'}" for i, role in roles})
            continue
        source = _SOURCES.get(kind)
        if source is None:
            continue
        model, column, gone = source
        rows = await db.execute(
            select(model.id, column).where(model.id.in_(ids), model.workspace_id == workspace_id)
        )
        found = {row[0]: row[1] for row in rows}
        if kind == "operator":
            deleted = await db.execute(
                select(Operator.id).where(Operator.id.in_(ids), Operator.deleted_at.is_not(None))
            )
            for (operator_id,) in deleted:
                found[operator_id] = None
        for i in ids:
            names[(kind, i)] = found.get(i) or (
                "unnamed contact" if kind == "contact" and i in found else gone
            )
    return names


def actor_name(entry: AuditEntry, names: Names) -> str | None:
    if entry.actor_kind == "system":
        return "the server"
    if entry.actor_kind == "anonymous":
        return "someone signed out"
    if entry.actor_id:
        return names.get(("operator", entry.actor_id))
    return None


def target_name(entry: AuditEntry, names: Names) -> str | None:
    if entry.target_kind and entry.target_id:
        return names.get((entry.target_kind, entry.target_id))
    return None
