"""WebSockets go from the server straight to their endpoint, around the HTTP middleware.

Every ``await`` between uvicorn and a socket's endpoint is a coroutine frame that stays
alive as long as the socket is open. Through Starlette's whole stack (its error
middleware, ours, its exception middleware and handler wrapper, the router, the route)
that is eight frames, their closures and a spare ``WebSocket``: 4 KB per idle socket,
spent on nothing, since every one of them passes a socket through untouched except two,
and :class:`SocketDoor` keeps what those two do: a NUL in the query string is refused
(:mod:`web.guard`), and what the endpoint raises is answered by the app's exception
handlers, as Starlette's exception middleware would (:mod:`web.failures`: HTTP 503 for a
handshake, close 1013 for an open socket, during a storage outage).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from starlette.routing import Match, WebSocketRoute
from starlette.types import ASGIApp, ExceptionHandler, Receive, Scope, Send
from starlette.websockets import WebSocket

from web.errors import handler_for
from web.guard import carries_nul

CLOSE_POLICY = 1008


class SocketDoor:
    """The app's outermost layer: a socket for one of ``routes`` goes to its endpoint,
    everything else to ``app`` (the middleware stack). Adds no frame of its own."""

    __slots__ = ("_app", "_handlers", "_routes")

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[WebSocketRoute],
        handlers: Mapping[Any, ExceptionHandler],
    ) -> None:
        self._app = app
        self._routes = tuple(routes)
        self._handlers = dict(handlers)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "websocket":
            for route in self._routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    return _open(route.app, self._handlers, scope, receive, send)
        return self._app(scope, receive, send)


async def _open(
    endpoint: ASGIApp,
    handlers: Mapping[Any, ExceptionHandler],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Run the endpoint; answer what it raises with the app's handler for it, if any."""
    if carries_nul(scope):
        await send({"type": "websocket.close", "code": CLOSE_POLICY})
        return
    try:
        await endpoint(scope, receive, send)
    except Exception as exc:
        handler = handler_for(handlers, exc)
        if handler is None:
            raise
        response = await handler(WebSocket(scope, receive, send), exc)
        if response is not None:
            await response(scope, receive, send)
        exc.__traceback__ = None  # a reused exception instance would pile up tracebacks


def socket_handlers(handlers: Mapping[Any, ExceptionHandler]) -> dict[Any, ExceptionHandler]:
    """The handlers Starlette's exception middleware would apply to a socket: the app's
    by exception class, but the catch-all ``Exception`` one, which answers HTTP requests
    only (Starlette's error middleware). The app registers none by status code."""
    return {k: v for k, v in handlers.items() if isinstance(k, type) and k is not Exception}
