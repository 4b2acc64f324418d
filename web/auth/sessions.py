"""Server-side sessions behind a signed cookie, and what happens when they end.

The cookie holds ``itsdangerous``-signed (HMAC-SHA256) random bytes; the database holds only
their SHA-256, so a copy of the sessions table opens no session. A session ends at logout,
after ``session_idle_s`` without a request, after ``session_absolute_s`` in any case, and
when its operator changes password or is disabled.

Revocation hooks: the WebSocket layer registers a coroutine with
``on_sessions_revoked(app).append(hook)``; it is awaited as ``hook(operator_id, session_id)``
after the revocation committed, with ``session_id=None`` meaning "every session of this
operator" (close those sockets with 1008). Hooks run in this process only; a hook that
must reach other processes publishes on the bus itself.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, Signer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from hub.model import as_utc, utcnow
from storage.models import Operator, Session, Workspace
from web.config import Settings
from web.crypto import random_token, sha256_hex

log = logging.getLogger("inviaro.auth")

RevokedHook = Callable[[str, str | None], Awaitable[None]]
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session


def cookie_name(settings: Settings) -> str:
    """``__Host-`` binds the cookie to our exact origin, over https only."""
    return "__Host-inviaro_session" if settings.secure_cookies else "inviaro_session"


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, salt="inviaro.session", digest_method=hashlib.sha256)


def on_sessions_revoked(app: Any) -> list[RevokedHook]:
    """The app's list of revocation hooks (created on first use); append yours to it."""
    hooks: list[RevokedHook] | None = getattr(app.state, "on_sessions_revoked", None)
    if hooks is None:
        hooks = []
        app.state.on_sessions_revoked = hooks
    return hooks


async def _notify(app: Any, operator_id: str, session_id: str | None) -> None:
    for hook in list(on_sessions_revoked(app)):
        try:
            await hook(operator_id, session_id)
        except Exception:
            log.exception("session revocation hook failed for operator %s", operator_id)


async def create_session(
    db: AsyncSession, settings: Settings, operator_id: str, ip: str | None
) -> tuple[Session, str]:
    """A fresh session (the caller commits) and the cookie value that refers to it."""
    token = random_token(nbytes=32)
    now = utcnow()
    row = Session(
        token_hash=sha256_hex(token),
        operator_id=operator_id,
        csrf_token=random_token(nbytes=24),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.session_absolute_s),
        ip=ip[:64] if ip else None,
    )
    db.add(row)
    return row, _signer(settings).sign(token.encode()).decode()


def set_session_cookie(response: Response, settings: Settings, cookie_value: str) -> None:
    response.set_cookie(
        cookie_name(settings),
        cookie_value,
        max_age=settings.session_absolute_s,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


async def lookup_session(
    db: AsyncSession, settings: Settings, cookie_value: str
) -> tuple[Session, Operator, Workspace] | None:
    """The live session a cookie refers to, or None when it is forged, unknown, revoked,
    idle too long, past its absolute expiry, or its operator or workspace is gone."""
    try:
        token = _signer(settings).unsign(cookie_value.encode()).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    now = utcnow()
    row = (
        await db.execute(
            select(Session, Operator, Workspace)
            .join(Operator, Operator.id == Session.operator_id)
            .join(Workspace, Workspace.id == Operator.workspace_id)
            .where(
                Session.token_hash == sha256_hex(token),
                Session.revoked_at.is_(None),
                Session.expires_at > now,
                Session.last_seen_at > now - timedelta(seconds=settings.session_idle_s),
                Operator.disabled.is_(False),
                Workspace.deleted_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    session, operator, workspace = row
    if as_utc(session.last_seen_at) < now - TOUCH_EVERY:
        await db.execute(update(Session).where(Session.id == session.id).values(last_seen_at=now))
        await db.commit()
    return session, operator, workspace


async def revoke_session(app: Any, operator_id: str, session_id: str) -> None:
    """End one session (logout) in its own transaction, then tell the hooks."""
    async with app.state.services.db() as db:
        await db.execute(
            update(Session)
            .where(Session.id == session_id, Session.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await db.commit()
    await _notify(app, operator_id, session_id)


async def revoke_operator_sessions(
    app: Any, operator_id: str, *, keep_session_id: str | None = None
) -> int:
    """End every session of an operator (password change, disabled, 2FA reset) except
    ``keep_session_id``; returns how many ended. Hooks get ``session_id=None``."""
    async with app.state.services.db() as db:
        stmt = update(Session).where(
            Session.operator_id == operator_id, Session.revoked_at.is_(None)
        )
        if keep_session_id is not None:
            stmt = stmt.where(Session.id != keep_session_id)
        result = await db.execute(stmt.values(revoked_at=utcnow()))
        await db.commit()
    await _notify(app, operator_id, None)
    return int(result.rowcount or 0)
