"""Server-side sessions behind a signed cookie, and what happens when they end.

The cookie holds ``itsdangerous``-signed (HMAC-SHA256) random bytes; the database holds only
their SHA-256, so a copy of the sessions table opens no session. A session ends at logout,
after ``session_idle_s`` without activity (an HTTP request, or a socket frame other than a
ping), after ``session_absolute_s`` in any case, and when its operator changes password, is
disabled or their workspace is deleted.

Ending sessions commits first, then announces a :class:`hub.gone.Gone` (see
:mod:`web.gone`): every process closes the sockets those sessions opened, within moments.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import TypeVarTuple

from itsdangerous import BadSignature, Signer
from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.responses import Response

from hub.gone import Reason, gone
from hub.model import as_utc, utcnow
from storage.models import ApiToken, Operator, Session, Workspace
from web.app_state import services_of
from web.config import Settings
from web.crypto import random_token, sha256_hex
from web.gone import announce

log = logging.getLogger("inviaro.auth")

Ts = TypeVarTuple("Ts")
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session


def cookie_name(settings: Settings) -> str:
    """``__Host-`` binds the cookie to our exact origin, over https only."""
    return "__Host-inviaro_session" if settings.secure_cookies else "inviaro_session"


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, salt="inviaro.session", digest_method=hashlib.sha256)


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


def session_fresh(now: datetime, idle_s: int) -> list[ColumnElement[bool]]:
    """A session's own conditions for being live: not revoked, expired or idle."""
    return [
        Session.revoked_at.is_(None),
        Session.expires_at > now,
        Session.last_seen_at > now - timedelta(seconds=idle_s),
    ]


def live_sessions(
    stmt: Select[*Ts], now: datetime, idle_s: int, *, allow_pending_2fa: bool = True
) -> Select[*Ts]:
    """``stmt`` (selecting from sessions) narrowed to live sessions: fresh, of an enabled
    operator in a workspace that is not deleted, and (unless ``allow_pending_2fa``) not of
    an operator who still has to enable the 2FA their workspace requires. The one
    definition shared by the cookie check and the sockets' sweep."""
    stmt = (
        stmt.join(Operator, Operator.id == Session.operator_id)
        .join(Workspace, Workspace.id == Operator.workspace_id)
        .where(*session_fresh(now, idle_s), Operator.disabled.is_(False))
        .where(Workspace.deleted_at.is_(None))
    )
    if not allow_pending_2fa:
        stmt = stmt.where(or_(Workspace.require_2fa.is_(False), Operator.totp_enabled.is_(True)))
    return stmt


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
    stmt = live_sessions(select(Session, Operator, Workspace), now, settings.session_idle_s)
    row = (await db.execute(stmt.where(Session.token_hash == sha256_hex(token)))).first()
    if row is None:
        return None
    session, operator, workspace = row
    if as_utc(session.last_seen_at) < now - TOUCH_EVERY:
        await db.execute(update(Session).where(Session.id == session.id).values(last_seen_at=now))
        await db.commit()
    return session, operator, workspace


async def revoke_session(app: Starlette, operator_id: str, session_id: str) -> None:
    """End one session (logout) in its own transaction; its sockets close everywhere."""
    async with services_of(app).db() as db:
        await db.execute(
            update(Session)
            .where(Session.id == session_id, Session.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await db.commit()
    await announce(services_of(app), gone("logout", "session", session_id))


async def revoke_operator_sessions(
    app: Starlette, operator_id: str, *, keep_session_id: str | None = None
) -> int:
    """End every session of an operator except ``keep_session_id`` (2FA enabled, say);
    returns how many ended. Their sockets close everywhere."""
    async with services_of(app).db() as db:
        stmt = update(Session).where(
            Session.operator_id == operator_id, Session.revoked_at.is_(None)
        )
        if keep_session_id is not None:
            stmt = stmt.where(Session.id != keep_session_id)
        ended = list(await db.scalars(stmt.values(revoked_at=utcnow()).returning(Session.id)))
        await db.commit()
    if ended:
        await announce(services_of(app), gone("sessions_ended", "session", *ended))
    return len(ended)


async def end_operator_access(
    app: Starlette, operator_id: str, reason: Reason, *, revoke_tokens: bool = False
) -> None:
    """The operator is gone as a principal (disabled; password changed): every session
    ends, with ``revoke_tokens`` every API token too, and every socket the operator holds
    closes on every process, whatever opened it."""
    now = utcnow()
    async with services_of(app).db() as db:
        await db.execute(
            update(Session)
            .where(Session.operator_id == operator_id, Session.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if revoke_tokens:
            await db.execute(
                update(ApiToken)
                .where(ApiToken.operator_id == operator_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        await db.commit()
    await announce(services_of(app), gone(reason, "operator", operator_id))
