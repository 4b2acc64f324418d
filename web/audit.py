"""The audit log: who did what to which resource, by id only.

Callers pass ids and action names, never emails, passwords, tokens or message content;
the entry is added to the caller's session and commits with the caller's own change, so a
change and its audit entry land together or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from hub.model import rfc3339
from storage.models import AuditEntry, Operator
from web.auth.context import client_ip


async def record(
    session: AsyncSession,
    *,
    workspace_id: str | None,
    actor_kind: str,
    actor_id: str | None,
    action: str,
    target_kind: str | None = None,
    target_id: str | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add one entry to ``session`` (the caller commits). ``actor_kind`` is ``operator``,
    ``token``, ``system`` or ``anonymous``; ``action`` a snake_case verb such as
    ``login_failed`` or ``channel_created``."""
    entry = AuditEntry(
        workspace_id=workspace_id,
        actor_kind=actor_kind,
        actor_id=actor_id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        ip=ip[:64] if ip else None,
    )
    session.add(entry)
    return entry


async def by_principal(
    session: AsyncSession,
    request: HTTPConnection,
    principal: Any,
    action: str,
    target_kind: str,
    target_id: str,
) -> AuditEntry:
    """:func:`record` for what a signed-in operator (or their API token) did to a resource."""
    return await record(
        session,
        workspace_id=principal.workspace_id,
        actor_kind="operator" if principal.via == "session" else "token",
        actor_id=principal.operator_id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        ip=client_ip(request),
    )


async def by_operator(
    session: AsyncSession,
    request: HTTPConnection,
    operator: Operator,
    action: str,
    target_kind: str,
    target_id: str,
) -> AuditEntry:
    """:func:`record` for what ``operator`` did in person (signing up, logging in): the
    actor is always ``operator``, whatever credentials came along."""
    return await record(
        session,
        workspace_id=operator.workspace_id,
        actor_kind="operator",
        actor_id=operator.id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        ip=client_ip(request),
    )


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.id,
        "at": rfc3339(entry.at),
        "actor": {"kind": entry.actor_kind, "id": entry.actor_id},
        "action": entry.action,
        "target": {"kind": entry.target_kind, "id": entry.target_id},
    }
    if entry.ip:
        out["ip"] = entry.ip
    return out
