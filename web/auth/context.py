"""Who is calling: one answer for HTTP requests and WebSocket handshakes alike.

``authenticate(conn)`` reads ``Authorization: Bearer <api token>`` or else the session
cookie from any Starlette ``HTTPConnection`` (a ``Request`` or a ``WebSocket``) and returns
a :class:`Principal` or None. ``require(request, roles=...)`` is what API handlers call: it
answers 401 without credentials, 403 for a missing or wrong ``X-CSRF-Token`` on an unsafe
cookie-authenticated request, 403 for a role that may not, and 403 ``2fa_required`` while
the workspace demands 2FA that this operator has not enabled yet (for a cookie and an API
token alike: a token made before the requirement stops working until its operator enables
2FA), and 429 past the operator's ``INVIARO_LIMIT_API``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal, TypeVarTuple

from sqlalchemy import Select, bindparam, or_, select, update
from starlette.requests import HTTPConnection, Request

from hub.model import as_utc, utcnow
from storage.db import autocommit
from storage.models import ApiToken, Operator, Workspace
from web import limits
from web.app_state import services_of
from web.auth.sessions import TOUCH_EVERY, cookie_name, lookup_session
from web.crypto import same, sha256_hex
from web.errors import ApiError

Role = Literal["owner", "admin", "agent"]
ROLES: tuple[Role, ...] = ("owner", "admin", "agent")
MANAGERS: tuple[Role, ...] = ("owner", "admin")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated operator, and how they proved it."""

    operator_id: str
    workspace_id: str
    role: str
    name: str
    session_id: str | None
    via: Literal["session", "token"]
    token_id: str | None = None  # the API token's id, for bearer tokens
    csrf_token: str | None = None  # the session's; None for bearer tokens
    must_enable_2fa: bool = False
    # The operator and workspace rows the session lookup read (detached, read-only, as of
    # this request's start), so handlers need not load them again; None for bearer tokens.
    account: tuple[Operator, Workspace] | None = field(default=None, repr=False, compare=False)


def must_enable_2fa(operator: Operator, workspace: Workspace) -> bool:
    """The workspace requires 2FA and this operator has not enabled it yet."""
    return workspace.require_2fa and not operator.totp_enabled


def client_ip(conn: HTTPConnection) -> str | None:
    """The peer address (uvicorn already applied X-Forwarded-For from trusted proxies)."""
    return conn.client.host if conn.client else None


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "unauthorized", "Use 'Authorization: Bearer <api token>'.")
    return value.strip()


async def authenticate(conn: HTTPConnection) -> Principal | None:
    """The caller, or None when no valid credentials came. A bearer header, when present,
    decides alone: a bad token is None even if a good cookie came along. Cached per
    connection."""
    cached = conn.scope.get("inviaro.principal", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    try:
        token = bearer_token(conn)
    except ApiError:
        principal: Principal | None = None
    else:
        principal = await (_from_token(conn, token) if token else _from_cookie(conn))
    conn.scope["inviaro.principal"] = principal
    return principal


async def _from_cookie(conn: HTTPConnection) -> Principal | None:
    services = services_of(conn)
    value = conn.cookies.get(cookie_name(services.settings))
    if not value:
        return None
    async with services.db() as db:
        found = await lookup_session(db, services.settings, value)
    if found is None:
        return None
    session, operator, workspace = found
    return Principal(
        operator_id=operator.id,
        workspace_id=operator.workspace_id,
        role=operator.role,
        name=operator.name,
        session_id=session.id,
        via="session",
        csrf_token=session.csrf_token,
        must_enable_2fa=must_enable_2fa(operator, workspace),
        account=(operator, workspace),
    )


def live_tokens(stmt: Select[*Ts], *, allow_pending_2fa: bool = True) -> Select[*Ts]:
    """``stmt`` (selecting from API tokens) narrowed to live tokens: not revoked, of an
    enabled operator of the token's workspace, which is not deleted, and (unless
    ``allow_pending_2fa``) not of an operator who still has to enable the 2FA their
    workspace requires. Shared by the token check and the sockets' sweep."""
    stmt = (
        stmt.join(Operator, Operator.id == ApiToken.operator_id)
        .join(Workspace, Workspace.id == ApiToken.workspace_id)
        .where(ApiToken.revoked_at.is_(None), Operator.disabled.is_(False))
        .where(Operator.workspace_id == ApiToken.workspace_id, Workspace.deleted_at.is_(None))
    )
    if not allow_pending_2fa:
        stmt = stmt.where(or_(Workspace.require_2fa.is_(False), Operator.totp_enabled.is_(True)))
    return stmt


# Built once: a token check runs for every API call and socket an integration opens.
_TOKEN_QUERY = live_tokens(
    select(
        ApiToken.id,
        ApiToken.last_used_at,
        Operator.id.label("operator_id"),
        Operator.workspace_id,
        Operator.role,
        Operator.name,
        Operator.totp_enabled,
        Workspace.require_2fa,
    )
).where(ApiToken.token_hash == bindparam("token_hash"))


async def _from_token(conn: HTTPConnection, token: str) -> Principal | None:
    services = services_of(conn)
    now = utcnow()
    async with autocommit(services.engine) as db:
        row = (await db.execute(_TOKEN_QUERY, {"token_hash": sha256_hex(token)})).first()
        if row is None:
            return None
        last = row.last_used_at
        if last is None or as_utc(last) < now - TOUCH_EVERY:
            await db.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return Principal(
        operator_id=row.operator_id,
        workspace_id=row.workspace_id,
        role=row.role,
        name=row.name,
        session_id=None,
        via="token",
        token_id=row.id,
        must_enable_2fa=row.require_2fa and not row.totp_enabled,
    )


async def require(
    request: Request,
    *,
    roles: Collection[str] | None = None,
    allow_pending_2fa: bool = False,
) -> Principal:
    """The authenticated caller, or an :class:`ApiError` (401/403) saying why not."""
    bearer_token(request)  # a malformed Authorization header is a 401 with a clear sentence
    principal = await authenticate(request)
    if principal is None:
        raise ApiError(401, "unauthorized", "Sign in, or send a valid API token.")
    if principal.via == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not sent or not principal.csrf_token or not same(sent, principal.csrf_token):
            raise ApiError(403, "csrf", "Send the session's X-CSRF-Token header.")
    if principal.must_enable_2fa and not allow_pending_2fa:
        raise ApiError(
            403, "2fa_required", "This workspace requires two-factor authentication; enable it."
        )
    if roles is not None and principal.role not in roles:
        raise ApiError(403, "forbidden", "Your role may not do this.")
    await limits.api_request(request, principal.operator_id)
    return principal
