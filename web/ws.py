"""The WebSocket endpoints: authenticate the handshake, then pump frames into a hub Session.

All meaning lives in :mod:`hub.session`; this module only checks who is connecting and from
where, moves bytes, and files each socket in ``services.holders`` under what it depends on
(see :mod:`web.gone`), so it closes (1008) when any of that goes away, on any process.
An operator of a workspace that requires 2FA who has not enabled it is refused (HTTP 403).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from sys import intern
from typing import TYPE_CHECKING, Any

from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from hub.codec import negotiate, subprotocol_for
from hub.fanout import Wire
from hub.gone import Kind, Ref
from hub.ratelimit import TokenBucket
from hub.service import OperatorPrincipal, Principal, VisitorPrincipal
from hub.session import ReplyCheck, Session
from storage import models as m
from web import metrics
from web.api.widget import visitor_from_connection
from web.app_state import services_of
from web.auth.context import Principal as AuthPrincipal
from web.auth.context import authenticate
from web.errors import ApiError
from web.failures import ACCEPTED
from web.gone import is_ping
from web.ws_protocol import WIRE

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger("inviaro.ws")

CLOSE_POLICY = 1008


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


def _wire(scope: Scope) -> Wire | None:
    """The server's fast path for pre-framed fan-out, if it offers one (our uvicorn protocol
    does; the TestClient and other servers do not, and every frame goes through ``send``)."""
    extensions = scope.get("extensions") or {}
    wire: Wire | None = extensions.get(WIRE)
    return wire


def _rate(services: Services, principal: Principal) -> TokenBucket:
    """The socket's send budget; a visitor's sockets share one, so more sockets buy none."""
    if isinstance(principal, VisitorPrincipal):
        return services.visitor_budgets.get(principal.contact_id)
    per_10s = services.settings.messages_per_10s
    return TokenBucket(rate=per_10s / 10, burst=per_10s)


# What a handshake yields for the socket's life: the principal, the session or API token
# that opened it (operators; None for visitors) and the reply check (operators only).
Accepted = tuple[Principal, Ref | None, ReplyCheck | None]
Handshake = Callable[[WebSocket], Awaitable[Accepted | None]]


def _depends_on(principal: Principal, credential: Ref | None) -> tuple[Ref, ...]:
    """Everything whose going away closes this socket (built afresh, never kept)."""
    if isinstance(principal, OperatorPrincipal):
        refs = (Ref("workspace", principal.workspace_id), Ref("operator", principal.operator_id))
        return (*refs, credential) if credential is not None else refs
    # Before a visitor's first message their conversation is only reserved: the sweep,
    # finding no such row, would take it for erased.
    held: Kind = "conversation" if principal.reservation is None else "reservation"
    return (
        Ref("workspace", principal.workspace_id),
        Ref("channel", principal.channel_id),
        Ref(held, principal.conversation_id),
    )


async def _serve(scope: Scope, receive: Receive, send: Send, handshake: Handshake) -> None:
    """One socket from handshake to close: the only coroutine frame it keeps."""
    accepted = await handshake(WebSocket(scope, receive, send))
    if accepted is None:
        return  # refused and closed: uvicorn answered HTTP 403
    principal, credential, reply_check = accepted
    del accepted  # this frame lives as long as the socket: keep no more than it needs
    # So does the scope (the server keeps it too): its handshake headers are of no more use.
    scope["headers"] = []
    services = scope["app"].state.services
    fmt = negotiate(scope.get("subprotocols") or [])
    out = _Out(send)
    conn = services.hub.registry.connect(fmt, out.send, out.close, _wire(scope))
    session = Session(
        services.hub,
        principal,
        conn,
        _rate(services, principal),
        services.settings.max_frame_bytes,
        reply_check=reply_check,
    )
    # A session's socket frames are its operator's activity (pings excepted): see web.sweep.
    active = credential.id if credential is not None and credential.kind == "session" else None
    depends_on = _depends_on(principal, credential)
    services.holders.add(conn, depends_on)
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
            if active is not None and not is_ping(data):
                services.socket_activity.add(active)
            await session.receive(data)
            if session.principal is not principal:  # a visitor's first message stored it
                principal = session.principal
                services.holders.remove(conn, depends_on)
                depends_on = _depends_on(principal, credential)
                services.holders.add(conn, depends_on)
    finally:
        services.holders.remove(conn, depends_on)
        await session.close()


async def _accept(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol=subprotocol_for(websocket.scope.get("subprotocols") or []))
    websocket.scope[ACCEPTED] = True  # from now on a storage outage closes it with 1013


async def _operator_handshake(websocket: WebSocket) -> Accepted | None:
    services = services_of(websocket)
    origin = websocket.headers.get("origin")
    try:
        principal = await authenticate(websocket)
    except ApiError:
        principal = None
    if (
        principal is None
        or principal.must_enable_2fa  # "can do nothing but enable one": no socket either
        or (origin and not await _operator_origin_ok(services, principal, origin))
    ):
        await websocket.close(CLOSE_POLICY)  # before accept: uvicorn answers HTTP 403
        return None
    await _accept(websocket)
    websocket.scope.pop("inviaro.principal", None)  # the socket keeps only what it needs
    # Ids as shared strings: every socket of a workspace (or of one operator) holds the same.
    operator_id = intern(principal.operator_id)
    hub_principal = OperatorPrincipal(intern(principal.workspace_id), operator_id, principal.name)
    if principal.session_id is not None:
        credential = Ref("session", principal.session_id)
    else:
        assert principal.token_id is not None  # a principal is a session's or a token's
        credential = Ref("token", principal.token_id)
    return hub_principal, credential, services.reply_check


async def _operator_origin_ok(services: Services, principal: AuthPrincipal, origin: str) -> bool:
    """Cross-site WebSocket hijacking guard: the app's own origin, or one the workspace lists."""
    origin = origin.rstrip("/")
    if origin == services.settings.public_origin:
        return True
    async with services.db() as db:
        workspace = await db.get(m.Workspace, principal.workspace_id)
    allowed = {o.rstrip("/") for o in (workspace.allowed_origins or ())} if workspace else set()
    return origin in allowed


async def _widget_handshake(websocket: WebSocket) -> Accepted | None:
    ticket = websocket.query_params.get("token", "")  # the connect ticket of a widget session
    found = await visitor_from_connection(websocket, ticket) if ticket else None
    if found is None:
        await websocket.close(CLOSE_POLICY)  # before accept: uvicorn answers HTTP 403
        return None
    visitor, reservation = found
    await _accept(websocket)
    services = services_of(websocket)
    open_now = services.holders.count(Ref("conversation", visitor.conversation_id))
    open_now += services.holders.count(Ref("reservation", visitor.conversation_id))
    if (
        open_now >= services.settings.visitor_sockets
    ):  # counted after the accept: nothing awaits from here until _serve lists the socket
        await websocket.close(CLOSE_POLICY, "too many sockets for this visitor")
        return None
    principal = VisitorPrincipal(
        intern(visitor.workspace_id),
        visitor.conversation_id,
        intern(visitor.channel_id),
        visitor.contact_id,
        reservation=reservation,
    )
    return principal, None, None


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
