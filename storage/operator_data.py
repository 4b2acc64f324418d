"""Operators are data subjects too: their own export, and deleting their account.

:func:`export_operator` gathers what the hub holds about one operator (the account
without secrets or hashes, sessions, API tokens, audit entries by or about them, the
messages they wrote) as one JSON-ready document. :func:`delete_operator` removes the
person from the account: the row stays as a tombstone without personal data so that
messages and audit entries keep a valid author, now shown as "former operator".

Both run in the caller's transaction (an :class:`AsyncConnection`), so the web layer
commits its audit entry with them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import rfc3339, utcnow
from hub.store import NotFound
from storage import models as m
from storage.models import table_of

EXPORT_FORMAT = "inviaro.operator-export/1"
FORMER_OPERATOR = "former operator"

T_OP = table_of(m.Operator)
T_WS = table_of(m.Workspace)
T_SESSION = table_of(m.Session)
T_TOKEN = table_of(m.ApiToken)
T_AUDIT = table_of(m.AuditEntry)
T_MSG = table_of(m.Message)
T_BACKUP_CODE = table_of(m.BackupCode)
T_AVATAR = table_of(m.OperatorAvatar)


def _time(value: Any) -> str | None:
    return rfc3339(value) if value is not None else None


async def _operator(conn: AsyncConnection, workspace_id: str, operator_id: str) -> Any:
    row = (
        await conn.execute(
            select(T_OP).where(
                T_OP.c.id == operator_id,
                T_OP.c.workspace_id == workspace_id,
                T_OP.c.deleted_at.is_(None),
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such operator in this workspace")
    return row


async def export_operator(
    conn: AsyncConnection, workspace_id: str, operator_id: str
) -> dict[str, Any]:
    """Everything held about the operator (their picture as base64), newest audit entries
    first, messages in the order they were written. Never a password hash, TOTP secret,
    backup code, session or token hash: those are credentials, not data about the person."""
    op = await _operator(conn, workspace_id, operator_id)
    workspace = (
        await conn.execute(select(T_WS.c.id, T_WS.c.name).where(T_WS.c.id == workspace_id))
    ).one()
    sessions = await conn.execute(
        select(T_SESSION)
        .where(T_SESSION.c.operator_id == operator_id)
        .order_by(T_SESSION.c.created_at, T_SESSION.c.id)
    )
    tokens = await conn.execute(
        select(T_TOKEN)
        .where(T_TOKEN.c.operator_id == operator_id)
        .order_by(T_TOKEN.c.created_at, T_TOKEN.c.id)
    )
    audit = await conn.execute(
        select(T_AUDIT)
        .where(
            T_AUDIT.c.workspace_id == workspace_id,
            or_(
                T_AUDIT.c.actor_id == operator_id,
                and_(T_AUDIT.c.target_kind == "operator", T_AUDIT.c.target_id == operator_id),
            ),
        )
        .order_by(T_AUDIT.c.at.desc(), T_AUDIT.c.id.desc())
    )
    messages = await conn.execute(
        select(T_MSG)
        .where(
            T_MSG.c.workspace_id == workspace_id,
            T_MSG.c.author_kind == "operator",
            T_MSG.c.author_id == operator_id,
        )
        .order_by(T_MSG.c.created_at, T_MSG.c.id)
    )
    picture = (
        await conn.execute(select(T_AVATAR).where(T_AVATAR.c.operator_id == operator_id))
    ).first()
    return {
        "format": EXPORT_FORMAT,
        "exported_at": rfc3339(utcnow()),
        "workspace": {"id": workspace.id, "name": workspace.name},
        "operator": {
            "id": op.id,
            "name": op.name,
            "email": op.email,
            "role": op.role,
            "disabled": op.disabled,
            "totp_enabled": op.totp_enabled,
            "created_at": rfc3339(op.created_at),
            "avatar": None
            if picture is None
            else {
                "mime": picture.mime,
                "updated_at": rfc3339(picture.updated_at),
                "base64": base64.b64encode(picture.data).decode(),
            },
        },
        "sessions": [
            {
                "id": s.id,
                "created_at": rfc3339(s.created_at),
                "last_seen_at": rfc3339(s.last_seen_at),
                "expires_at": rfc3339(s.expires_at),
                "revoked_at": _time(s.revoked_at),
                "ip": s.ip,
            }
            for s in sessions
        ],
        "api_tokens": [
            {
                "id": t.id,
                "name": t.name,
                "created_at": rfc3339(t.created_at),
                "last_used_at": _time(t.last_used_at),
                "revoked_at": _time(t.revoked_at),
            }
            for t in tokens
        ],
        "audit": [
            {
                "id": a.id,
                "at": rfc3339(a.at),
                "actor": {"kind": a.actor_kind, "id": a.actor_id},
                "action": a.action,
                "target": {"kind": a.target_kind, "id": a.target_id},
                "ip": a.ip,
            }
            for a in audit
        ],
        "messages": [
            {
                "id": r.id,
                "conversation_id": r.conversation_id,
                "seq": r.seq,
                "text": r.text,
                "attachments": list(r.attachments or ()),
                "status": r.status,
                "created_at": rfc3339(r.created_at),
            }
            for r in messages
        ],
    }


@dataclass(frozen=True, slots=True)
class OperatorDeletion:
    operator_id: str
    messages: int
    sessions: int
    tokens: int


async def delete_operator(
    conn: AsyncConnection, workspace_id: str, operator_id: str
) -> OperatorDeletion:
    """Remove the person from the account; their messages stay, by "former operator".

    The row keeps its id (messages, assignments and audit entries point at it) but loses
    name, email, password, picture, second factor and backup codes, and is disabled for good;
    every session and API token ends. The caller announces a ``hub.gone.Gone`` for them
    afterwards, so open sockets close. Raises NotFound for an unknown or already deleted operator.
    """
    await _operator(conn, workspace_id, operator_id)
    now = utcnow()
    await conn.execute(
        update(T_OP)
        .where(T_OP.c.id == operator_id)
        .values(
            name=FORMER_OPERATOR,
            email=f"deleted-{operator_id}@deleted.invalid",
            password_hash="!",  # never a valid hash: no password opens it
            disabled=True,
            totp_secret=None,
            totp_enabled=False,
            totp_last_step=None,
            avatar_at=None,
            deleted_at=now,
        )
    )
    await conn.execute(delete(T_BACKUP_CODE).where(T_BACKUP_CODE.c.operator_id == operator_id))
    await conn.execute(delete(T_AVATAR).where(T_AVATAR.c.operator_id == operator_id))
    sessions = await conn.execute(
        update(T_SESSION)
        .where(T_SESSION.c.operator_id == operator_id, T_SESSION.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    tokens = await conn.execute(
        update(T_TOKEN)
        .where(T_TOKEN.c.operator_id == operator_id, T_TOKEN.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    messages = await conn.execute(
        update(T_MSG)
        .where(
            T_MSG.c.workspace_id == workspace_id,
            T_MSG.c.author_kind == "operator",
            T_MSG.c.author_id == operator_id,
        )
        .values(author_name=FORMER_OPERATOR)
    )
    return OperatorDeletion(operator_id, messages.rowcount, sessions.rowcount, tokens.rowcount)
