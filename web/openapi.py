"""``GET /openapi.json``: the hand-written OpenAPI 3.1 document of the whole public surface.

The document lives beside this module (``web/openapi.json``) and is read once per process;
``tests/web/test_openapi.py`` keeps it in step with :func:`web.routes.all_routes`.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DOCUMENT = Path(__file__).with_name("openapi.json")


@lru_cache(maxsize=1)
def document() -> tuple[bytes, str]:
    """The document's bytes and a strong ETag (quoted)."""
    body = DOCUMENT.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


async def openapi_json(request: Request) -> Response:
    body, etag = document()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
