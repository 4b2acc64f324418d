"""HTML error pages for people: a browser that follows a broken link gets a page with a way
back, not raw JSON. The API, webhooks, sockets and any client asking for JSON keep the
CONTRACT's JSON error shape (web/errors.py decides by :func:`wants_html`)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

_MACHINE_PREFIXES = ("/api/", "/webhooks/", "/ws/", "/oauth/", "/healthz", "/readyz", "/metrics")
_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
)

_TEXTS = {
    404: ("Page not found", "There is nothing at this address. The link may be old or mistyped."),
    405: ("Page not found", "There is nothing to see at this address."),
    500: (
        "Something went wrong",
        "The hub had a problem showing this page. It was logged; try again in a moment.",
    ),
}


def wants_html(request: Request) -> bool:
    """A browser navigating to a page: a GET or HEAD outside the machine doors whose
    ``Accept`` puts HTML before JSON."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.url.path.startswith(_MACHINE_PREFIXES) or request.url.path == "/openapi.json":
        return False
    accept = request.headers.get("accept", "").lower()
    html = accept.find("text/html")
    json = accept.find("application/json")
    return html >= 0 and (json < 0 or html < json)


def error_page(request: Request, status: int) -> HTMLResponse:
    title, text = _TEXTS.get(status, _TEXTS[500])
    body = _env.get_template("error.html").render(title=title, text=text, status=status)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
