"""``GET /widget.js``: the embeddable chat widget, served from the installed package.

The file ships as the top-level data directory ``widget/`` of the wheel (a namespace
package in an editable install). It is read once per process; the ETag is its content hash,
so a short ``max-age`` plus revalidation keeps every embedding site current within minutes.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"
MEDIA_TYPE = "application/javascript; charset=utf-8"


@lru_cache(maxsize=1)
def widget_source() -> tuple[bytes, str]:
    """The widget's bytes and their strong ETag (quoted)."""
    body = (files("widget") / "widget.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


async def widget_js(request: Request) -> Response:
    body, etag = widget_source()
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=MEDIA_TYPE)
    return Response(body, headers=headers, media_type=MEDIA_TYPE)


routes = [Route("/widget.js", widget_js, methods=["GET", "HEAD"])]
