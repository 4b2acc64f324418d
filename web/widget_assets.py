"""``GET /widget.js``: the embeddable chat widget, served from the installed package; and
``GET /widget/try?key=…``, a page of the hub's own that embeds it, so an operator can try a
widget channel before putting the tag on a real website.

The file ships as the top-level data directory ``widget/`` of the wheel. It is read once
per process; the ETag is its content hash, so a short ``max-age`` plus revalidation keeps
every embedding site current within minutes. It is compressed once, too: a browser that
accepts gzip (all of them) fetches about a third of the bytes on every page of the site.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.contracts import widget as widget_contract
from web.operation import declare

# ``widget/`` sits beside ``web/`` both in the source tree (editable installs) and in
# site-packages (wheels), so this finds the live file in either; importlib.resources would
# prefer the copy an editable install froze at install time.
WIDGET_JS = Path(__file__).resolve().parent.parent / "widget" / "widget.js"
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"
MEDIA_TYPE = "application/javascript; charset=utf-8"


@lru_cache(maxsize=1)
def widget_source() -> tuple[bytes, bytes, str]:
    """The widget's bytes, the same gzipped, and their strong ETag (quoted)."""
    body = WIDGET_JS.read_bytes()
    return body, gzip.compress(body, 9, mtime=0), '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


@declare(widget_contract.WIDGET_JS, widget_contract.WIDGET_JS_HEAD)
async def widget_js(request: Request) -> Response:
    body, gzipped, etag = widget_source()
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if _accepts_gzip(request.headers.get("accept-encoding", "")):
        body = gzipped
        headers["Content-Encoding"] = "gzip"
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=MEDIA_TYPE)
    return Response(body, headers=headers, media_type=MEDIA_TYPE)


# The widget styles its Shadow DOM with a <style> element: this page alone allows that.
TRY_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'; object-src 'none'"
)


@declare(widget_contract.GET_WIDGET_TRY)
async def try_widget(request: Request) -> Response:
    key = request.query_params.get("key", "")
    if not key.isascii() or not key.replace("_", "").replace("-", "").isalnum() or len(key) > 64:
        key = ""
    page = TRY_PAGE.replace("{key}", key)
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": TRY_CSP, "Cache-Control": "no-store"},
    )


TRY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Widget preview · Inviaro</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css"></head>
<body class="try-widget"><main class="card">
<h1>Widget preview</h1>
<p>This page embeds your widget channel exactly as a website would. Open the chat button
in the corner and write a message: it arrives in your inbox like any visitor's.</p>
<p class="muted">Its tag: <code>&lt;script src="/widget.js" data-inviaro-key="{key}"
async&gt;&lt;/script&gt;</code></p>
</main>
<script src="/widget.js" data-inviaro-key="{key}" async></script>
</body></html>
"""


routes = [
    Route("/widget.js", widget_js, methods=["GET", "HEAD"]),
    Route("/widget/try", try_widget, methods=["GET"]),
]
