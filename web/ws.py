"""The WebSocket endpoints: authenticate the handshake, then pump frames into a hub Session.

All meaning lives in :mod:`hub.session`; this module only checks who is connecting and from
where, moves bytes, and closes sockets whose credentials were revoked meanwhile.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from sys import intern
from typing import Any

from sqlalchemy import or_, select
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from hub.codec import negotiate, subprotocol_for
from hub.fanout import Connection
from hub.model import utcnow
from hub.ratelimit import TokenBucket
from hub.service import OperatorPrincipal, Principal, VisitorPrincipal
from hub.session import ReplyCheck, Session
from storage import models as m
from web import metrics
from web.api.widget import visitor_from_connection
from web.auth.context import authenticate
from web.auth.sessions import on_sessions_revoked
from web.errors import ApiError
from web.failures import ACCEPTED
from web.window import check_reply_window_by_id

log = logging.getLogger("inviaro.ws")

CLOSE_POLICY = 1008


class OperatorSockets:
    """This process's operator sockets by session, so revocations close them (1008)."""

    def __init__(self) -> None:
        self.by_session: dict[str, set[Connection]] = defaultdict(set)
        self.by_operator: dict[str, set[str]] = defaultdict(set)

    def add(self, key: tuple[str, str], conn: Connection) -> None:
        """List ``conn`` under ``key``: (operator id, session id or ``token:<operator id>``)."""
        operator_id, session_id = key
        self.by_session[session_id].add(conn)
        self.by_operator[operator_id].add(session_id)

    def remove(self, key: tuple[str, str], conn: Connection) -> None:
        operator_id, session_id = key
        conns = self.by_session.get(session_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.by_session[session_id]
                self.by_operator[operator_id].discard(session_id)
                if not self.by_operator[operator_id]:
                    del self.by_operator[operator_id]

    async def sweep(self, services: Any, session_ids: list[str] | None = None) -> None:
        """Close sockets whose session was revoked, expired, or whose operator was disabled.

        One query for all local sessions, so the cost does not grow per socket."""
        ids = list(self.by_session) if session_ids is None else session_ids
        if not ids:
            return
        now = utcnow()
        async with services.db() as db:
            rows = await db.execute(
                select(m.Session.id)
                .join(m.Operator, m.Operator.id == m.Session.operator_id)
                .where(
                    m.Session.id.in_(ids),
                    or_(
                        m.Session.revoked_at.is_not(None),
                        m.Session.expires_at < now,
                        m.Operator.disabled.is_(True),
                    ),
                )
            )
            dead = [r.id for r in rows]
        for session_id in dead:
            for conn in list(self.by_session.get(session_id, ())):
                conn.close(CLOSE_POLICY)


class VisitorSockets:
    """This process's visitor sockets by conversation, so erasures close them (1008)."""

    def __init__(self) -> None:
        self.by_conversation: dict[str, set[Connection]] = defaultdict(set)

    def add(self, conversation_id: str, conn: Connection) -> None:
        self.by_conversation[conversation_id].add(conn)

    def remove(self, conversation_id: str, conn: Connection) -> None:
        conns = self.by_conversation.get(conversation_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.by_conversation[conversation_id]

    async def sweep(self, services: Any) -> None:
        """Close sockets whose conversation is gone (erased on another process, or purged).

        One query for all local conversations; the process that erased closes at once."""
        ids = list(self.by_conversation)
        if not ids:
            return
        async with services.db() as db:
            rows = await db.execute(select(m.Conversation.id).where(m.Conversation.id.in_(ids)))
            alive = {r.id for r in rows}
        for conversation_id in ids:
            if conversation_id not in alive:
                for conn in list(self.by_conversation.get(conversation_id, ())):
                    conn.close(CLOSE_POLICY)


def install(app: Any) -> None:
    """Register the hooks that close sockets when sessions end or contacts are erased.

    The process that revokes or erases closes its sockets at once; every process also
    re-checks its sockets' sessions and conversations against the database each heartbeat,
    so sockets held by other processes close within one heartbeat."""
    services = app.state.services
    sockets = services.extras["operator_sockets"] = OperatorSockets()
    visitors = services.extras["visitor_sockets"] = VisitorSockets()
    services.extras["reply_check"] = _reply_check(services)

    async def on_revoked(operator_id: str, session_id: str | None) -> None:
        ids = [session_id] if session_id else list(sockets.by_operator.get(operator_id, ()))
        await sockets.sweep(services, ids)

    async def on_heartbeat() -> None:
        await sockets.sweep(services)
        await visitors.sweep(services)

    async def on_erased(workspace_id: str, contact_id: str, conversation_ids: list[str]) -> None:
        for conversation_id in conversation_ids:
            services.hub.close_conversation(conversation_id)

    on_sessions_revoked(app).append(on_revoked)
    services.hooks("on_heartbeat").append(on_heartbeat)
    services.hooks("on_contact_erased").append(on_erased)


class _Out:
    """One accepted socket's ASGI ``send``, called with each frame directly.

    Going through Starlette's ``WebSocket.send_text`` would add two coroutines to every
    frame of a fan-out; :meth:`send` hands back the server's own ``send`` coroutine, which
    :class:`hub.fanout.Connection` usually runs to completion on the spot."""

    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    def send(self, data: str | bytes) -> Coroutine[Any, Any, None]:
        key = "bytes" if isinstance(data, bytes) else "text"
        return self._send({"type": "websocket.send", key: data})  # type: ignore[return-value]

    async def close(self, code: int) -> None:
        await self._send({"type": "websocket.close", "code": code})


def _rate(services: Any) -> TokenBucket:
    per_10s = services.settings.messages_per_10s
    return TokenBucket(rate=per_10s / 10, burst=per_10s)


def _reply_check(services: Any) -> ReplyCheck:
    """The reply-window check, one callable per process shared by every operator session."""

    async def check(conversation_id: str) -> str | None:
        try:
            await check_reply_window_by_id(services, conversation_id)
        except ApiError as refusal:
            return refusal.detail
        return None

    return check


# What a handshake yields for the socket's life: the principal, the local index the
# socket is listed in and its key there, and the reply check (operators only).
Accepted = tuple[Principal, "OperatorSockets | VisitorSockets", Any, ReplyCheck | None]
Handshake = Callable[[WebSocket], Awaitable[Accepted | None]]


async def _serve(scope: Scope, receive: Receive, send: Send, handshake: Handshake) -> None:
    """One socket from handshake to close: the only coroutine frame it keeps."""
    accepted = await handshake(WebSocket(scope, receive, send))
    if accepted is None:
        return  # refused and closed: uvicorn answered HTTP 403
    principal, sockets, key, reply_check = accepted
    del accepted  # this frame lives as long as the socket: keep no more than it needs
    services = scope["app"].state.services
    fmt = negotiate(scope.get("subprotocols") or [])
    out = _Out(send)
    conn = services.hub.registry.connect(fmt, out.send, out.close)
    session = Session(
        services.hub,
        principal,
        conn,
        _rate(services),
        services.settings.max_frame_bytes,
        reply_check=reply_check,
    )
    sockets.add(key, conn)
    try:
        await session.open()
        while not conn.closed:
            message = await receive()
            if message["type"] != "websocket.receive":
                return  # websocket.disconnect
            data = message.get("text")
            if data is None:
                data = message.get("bytes")
            if data is None:
                continue
            metrics.FRAMES_IN.inc()
            await session.receive(data)
    finally:
        sockets.remove(key, conn)
        await session.close()


async def _accept(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol=subprotocol_for(websocket.scope.get("subprotocols") or []))
    websocket.scope[ACCEPTED] = True  # from now on a storage outage closes it with 1013


async def _operator_handshake(websocket: WebSocket) -> Accepted | None:
    services = websocket.app.state.services
    origin = websocket.headers.get("origin")
    try:
        principal = await authenticate(websocket)
    except ApiError:
        principal = None
    if principal is None or (origin and not await _operator_origin_ok(services, principal, origin)):
        await websocket.close(CLOSE_POLICY)  # before accept: uvicorn answers HTTP 403
        return None
    await _accept(websocket)
    websocket.scope.pop("inviaro.principal", None)  # the socket keeps only what it needs
    # Ids as shared strings: every socket of a workspace (or of one operator) holds the same.
    operator_id = intern(principal.operator_id)
    hub_principal = OperatorPrincipal(intern(principal.workspace_id), operator_id, principal.name)
    session_key = principal.session_id or f"token:{principal.operator_id}"
    key = (operator_id, session_key)
    return hub_principal, services.extras["operator_sockets"], key, services.extras["reply_check"]


async def _operator_origin_ok(services: Any, principal: Any, origin: str) -> bool:
    """Cross-site WebSocket hijacking guard: the app's own origin, or one the workspace lists."""
    origin = origin.rstrip("/")
    if origin == services.settings.public_origin:
        return True
    async with services.db() as db:
        workspace = await db.get(m.Workspace, principal.workspace_id)
    allowed = {o.rstrip("/") for o in (workspace.allowed_origins or ())} if workspace else set()
    return origin in allowed


async def _widget_handshake(websocket: WebSocket) -> Accepted | None:
    services = websocket.app.state.services
    token = websocket.query_params.get("token", "")
    visitor = await visitor_from_connection(websocket, token) if token else None
    if visitor is None:
        await websocket.close(CLOSE_POLICY)  # before accept: uvicorn answers HTTP 403
        return None
    await _accept(websocket)
    principal = VisitorPrincipal(
        intern(visitor.workspace_id),
        visitor.conversation_id,
        intern(visitor.channel_id),
        visitor.contact_id,
    )
    return principal, services.extras["visitor_sockets"], visitor.conversation_id, None


class _Endpoint:
    """A WebSocket endpoint as a plain ASGI app (Starlette calls it as one, since it is no
    function). Starlette's wrapper for function endpoints would keep a second ``WebSocket``,
    its closures and two more coroutine frames alive for as long as each socket is open."""

    __slots__ = ("_handshake",)

    def __init__(self, handshake: Handshake) -> None:
        self._handshake = handshake

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        return _serve(scope, receive, send, self._handshake)


routes = [
    WebSocketRoute("/ws/operator", _Endpoint(_operator_handshake)),
    WebSocketRoute("/ws/widget", _Endpoint(_widget_handshake)),
]
