"""What crosses origins, in one place (pure ASGI, so streaming and sockets pass through):

- security headers on every HTTP response: a CSP whose ``connect-src`` names the app's own
  WebSocket origin only, HSTS when the public URL is https, ``Cache-Control: no-store`` on
  API answers (they are personal: a shared computer's cache must not keep them);
- CORS for the embeddable widget's script and session endpoint;
- a second CSRF layer: an unsafe request carrying the session cookie is refused (403) when
  the browser says it came from another site (``Origin`` or ``Sec-Fetch-Site``). The
  ``X-CSRF-Token`` check in :func:`web.auth.context.require` stays the first layer;
  requests with neither header (curl with the cookie and the token) pass as before.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.auth.sessions import cookie_name
from web.config import Settings
from web.errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE_FETCHES = frozenset({b"same-origin", b"none"})  # "none": typed or bookmarked
HSTS = b"max-age=63072000; includeSubDomains"


def csp(settings: Settings) -> str:
    """The pages' policy: everything from the app itself; sockets to its own origin only."""
    ws = urlsplit(settings.ws_base)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src 'self' {ws.scheme}://{ws.netloc}; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'"
    )


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", csp(settings).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.public_url.startswith("https://"):
        headers.append((b"strict-transport-security", HSTS))
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)
        self.public_origin = settings.public_origin.encode()
        self.cookie = cookie_name(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        # The widget script is embedded by other sites; it must stay loadable cross-origin.
        # Its session endpoint checks the Origin itself (and reads no cookie), so CORS may
        # echo any origin there.
        embeddable = path == "/widget.js" or path.startswith("/api/widget/")
        api = path.startswith("/api/")
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
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
                            (b"access-control-allow-headers", b"content-type, x-visitor-token"),
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
                    for k, v in self.headers
                    if k not in present and not (embeddable and k == b"x-frame-options")
                ]
                if api and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra, *cors]}
            await send(message)

        if not embeddable and self._cross_site(scope, headers):
            response = error_response(
                403,
                "csrf",
                "This request came from another site; a signed-in browser may change "
                "things only from the app's own pages.",
            )
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _cross_site(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        """An unsafe request with the session cookie (and no bearer token, which would
        decide alone) that the browser marked as coming from another origin."""
        if scope["method"] in SAFE_METHODS or b"authorization" in headers:
            return False
        cookies = headers.get(b"cookie")
        if cookies is None or self.cookie not in cookie_parser(cookies.decode("latin-1")):
            return False
        origin = headers.get(b"origin")
        fetch_site = headers.get(b"sec-fetch-site")
        return (origin is not None and origin != self.public_origin) or (
            fetch_site is not None and fetch_site not in SAME_SITE_FETCHES
        )
