"""Security headers on every HTTP response (pure ASGI, so streaming and sockets pass through)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The widget script is embedded by other sites; it must stay loadable cross-origin.
        # Its session endpoint checks the Origin itself, so CORS may echo any origin there.
        embeddable = scope["path"] in ("/widget.js",) or scope["path"].startswith("/api/widget/")
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        cors = []
        if embeddable and origin:
            cors = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
            if scope["method"] == "OPTIONS":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [
                            *cors,
                            (b"access-control-allow-methods", b"POST, GET, OPTIONS"),
                            (b"access-control-allow-headers", b"content-type"),
                            (b"access-control-max-age", b"600"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (k, v)
                    for k, v in HEADERS
                    if k not in present and not (embeddable and k == b"x-frame-options")
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra, *cors]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
