"""Refuse requests whose path or query carries a NUL character, before any handler.

No id or parameter of ours contains one, and Postgres cannot even compare a string that
does: without this, a ``%00`` in a path id would reach the database as an error (500).
Like a NUL in a body (:func:`web.errors.refuse_nul`), it is answered 422 with a sentence.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from web.errors import error_response


class RejectNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and carries_nul(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            response = error_response(
                422, "invalid", "The URL holds a NUL character (U+0000); no parameter may."
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def carries_nul(scope: Scope) -> bool:
    """Whether the path or the query string holds a NUL (also checked by web.ws_door)."""
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query
