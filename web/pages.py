"""The server-rendered pages: sign-up, login and (for now) a placeholder inbox.

Pages hold no inline script or style (the CSP allows only ``'self'``); their behaviour is
in ``web/static``, which talks to the JSON API with ``fetch``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from storage.models import Operator, Workspace
from web.auth.context import authenticate

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
NO_STORE = {"Cache-Control": "no-store"}


async def home(request: Request) -> Response:
    signed_in = await authenticate(request) is not None
    return RedirectResponse("/inbox" if signed_in else "/login", status_code=303)


async def login_page(request: Request) -> Response:
    if await authenticate(request) is not None:
        return RedirectResponse("/inbox", status_code=303)
    return templates.TemplateResponse(request, "login.html", {"title": "Sign in"}, headers=NO_STORE)


async def signup_page(request: Request) -> Response:
    if await authenticate(request) is not None:
        return RedirectResponse("/inbox", status_code=303)
    return templates.TemplateResponse(
        request, "signup.html", {"title": "Create a workspace"}, headers=NO_STORE
    )


async def inbox_page(request: Request) -> Response:
    principal = await authenticate(request)
    if principal is None or principal.via != "session":
        return RedirectResponse("/login", status_code=303)
    async with request.app.state.services.db() as db:
        operator = await db.get(Operator, principal.operator_id)
        workspace = await db.get(Workspace, principal.workspace_id)
    return templates.TemplateResponse(
        request,
        "inbox.html",
        {
            "title": "Inbox",
            "operator": operator,
            "workspace": workspace,
            "csrf_token": principal.csrf_token,
            "must_enable_2fa": principal.must_enable_2fa,
        },
        headers=NO_STORE,
    )


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/signup", signup_page, methods=["GET"]),
    Route("/inbox", inbox_page, methods=["GET"]),
    Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
]
