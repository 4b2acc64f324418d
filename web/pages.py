"""The server-rendered pages: sign-up, login, the live inbox, the Studio's flows and the
settings.

Pages hold no inline script or style (the CSP allows only ``'self'``); their behaviour is
in ``web/static`` (plain ES modules, no build step), which talks to the JSON API with
``fetch`` and to ``/ws/operator``. Templates only render the shell and the signed-in
operator's identity; everything customers typed is put into the page by the scripts with
``textContent``.

The 2FA QR code is drawn here, server-side, for the signed-in operator's *pending* secret
(the one ``POST /api/2fa/setup`` just stored, sealed): ``GET /settings/2fa/qr.svg`` carries
no secret in its URL, so none reaches access logs, and answers 404 once 2FA is enabled.
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from web.app_state import services_of
from web.auth import totp
from web.auth.context import Principal, authenticate
from web.contracts import account_pages as account_pages_contract
from web.contracts import pages as pages_contract
from web.crypto import DecryptError
from web.operation import declare

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
NO_STORE = {"Cache-Control": "no-store"}


async def _session(request: Request) -> Principal | None:
    """The signed-in operator of this browser (API tokens do not open pages)."""
    principal = await authenticate(request)
    if principal is None or principal.via != "session":
        return None
    return principal


def _to_login(request: Request) -> Response:
    return RedirectResponse("/login", status_code=303)


@declare(pages_contract.HOME)
async def home(request: Request) -> Response:
    signed_in = await _session(request) is not None
    return RedirectResponse("/inbox" if signed_in else "/login", status_code=303)


def next_path(raw: str | None) -> str:
    """Where to go after signing in: ``raw`` when it is a plain path on this site, else the
    inbox. Strict, as ``web/static/auth.js`` is: browsers drop tabs and newlines and read a
    backslash as ``/``, so anything holding a control character or a backslash, not
    starting with exactly one ``/``, or with empty or dot segments, is not followed."""
    if (
        not raw
        or not raw.startswith("/")
        or raw.startswith("//")
        or "\\" in raw
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw)
    ):
        return "/inbox"
    parts = urlsplit(raw)
    segments = parts.path.split("/")[1:]
    if parts.scheme or parts.netloc or any(s in ("", ".", "..") for s in segments[:-1]):
        return "/inbox"  # "/.//host" would resolve to a "//host" path: keep paths plain
    return raw


@declare(pages_contract.LOGIN_PAGE)
async def login_page(request: Request) -> Response:
    if await _session(request) is not None:
        return RedirectResponse(next_path(request.query_params.get("next")), status_code=303)
    return templates.TemplateResponse(request, "login.html", {"title": "Sign in"}, headers=NO_STORE)


@declare(pages_contract.SIGNUP_PAGE)
async def signup_page(request: Request) -> Response:
    if await _session(request) is not None:
        return RedirectResponse("/inbox", status_code=303)
    return templates.TemplateResponse(
        request, "signup.html", {"title": "Create a workspace"}, headers=NO_STORE
    )


async def _app_page(
    request: Request, template: str, title: str, *, allow_pending_2fa: bool
) -> Response:
    """``allow_pending_2fa`` as in :func:`web.auth.context.require`: without it, an operator
    who must still enable 2FA is sent to the security settings."""
    principal = await _session(request)
    if principal is None or principal.account is None:
        return _to_login(request)
    if principal.must_enable_2fa and not allow_pending_2fa:
        return RedirectResponse("/settings?tab=security", status_code=303)
    operator, workspace = principal.account
    return templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "operator": operator,
            "workspace": workspace,
            "csrf_token": principal.csrf_token,
            "must_enable_2fa": principal.must_enable_2fa,
            "public_url": request.app.state.services.settings.public_url,
            # Settings → Billing: owners, where the server turns billing on.
            "billing": request.app.state.services.settings.billing and operator.role == "owner",
        },
        headers=NO_STORE,
    )


@declare(pages_contract.INBOX_PAGE)
async def inbox_page(request: Request) -> Response:
    return await _app_page(request, "inbox.html", "Inbox", allow_pending_2fa=False)


@declare(pages_contract.FLOWS_PAGE)
async def flows_page(request: Request) -> Response:
    return await _app_page(request, "flows.html", "Flows", allow_pending_2fa=False)


@declare(pages_contract.SETTINGS_PAGE)
async def settings_page(request: Request) -> Response:
    return await _app_page(request, "settings.html", "Settings", allow_pending_2fa=True)


@declare(account_pages_contract.REPORTS_PAGE)
async def reports_page(request: Request) -> Response:
    return await _app_page(request, "reports.html", "Reports", allow_pending_2fa=False)


@declare(pages_contract.TWOFA_QR)
async def twofa_qr(request: Request) -> Response:
    """The QR code of the operator's pending TOTP secret, as SVG (never cached)."""
    principal = await _session(request)
    if principal is None or principal.account is None:
        return Response(status_code=401, headers=NO_STORE)
    services = services_of(request)
    operator = principal.account[0]
    if operator.totp_enabled or operator.totp_secret is None:
        return Response(status_code=404, headers=NO_STORE)
    try:
        secret = totp.open_secret(services.settings, operator.totp_secret)
    except DecryptError:
        return Response(status_code=404, headers=NO_STORE)
    qr = segno.make(totp.otpauth_uri(secret, operator.email), error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=6, border=3, light="#ffffff", xmldecl=False)
    return Response(out.getvalue(), media_type="image/svg+xml", headers=NO_STORE)


STATIC_FILES = StaticFiles(directory=str(HERE / "static"))

routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/signup", signup_page, methods=["GET"]),
    Route("/inbox", inbox_page, methods=["GET"]),
    Route("/flows", flows_page, methods=["GET"]),
    Route("/settings", settings_page, methods=["GET"]),
    Route("/reports", reports_page, methods=["GET"]),
    Route("/settings/2fa/qr.svg", twofa_qr, methods=["GET"]),
    Mount(
        "/static",
        app=declare(pages_contract.STATIC)(StaticFiles(directory=str(HERE / "static"))),
        name="static",
    ),
]
