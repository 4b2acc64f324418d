"""The one error shape of the API: ``{"error": code, "detail": sentence}``, never a trace."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from web.error_pages import error_page, wants_html

log = logging.getLogger("inviaro.web")


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise anywhere in a handler: becomes a JSON error response with this status."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers
        self.extra = extra  # more keys beside error and detail (a 422's ``problems``)


def error_response(
    status: int,
    code: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "detail": detail, **(extra or {})}
    return JSONResponse(body, status_code=status, headers=headers)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    level = logging.INFO if exc.status < 500 else logging.ERROR
    log.log(level, "%s %s -> %s %s", request.method, request.url.path, exc.status, exc.code)
    return error_response(exc.status, exc.code, exc.detail, exc.headers, exc.extra)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405) and wants_html(request):
        return error_page(request, 404 if exc.status_code == 405 else exc.status_code)
    code = _CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else code.replace("_", " ")
    if exc.status_code == 404:
        detail = f"There is nothing at {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return error_response(exc.status_code, code, detail, exc.headers)


async def server_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if wants_html(request):
        return error_page(request, 500)
    return error_response(500, "internal", "Something went wrong on our side; it was logged.")


MAX_JSON_BYTES = 1024 * 1024


NUL_DETAIL = "The body holds a NUL character (U+0000); no field may contain one."


def refuse_nul(data: Any) -> None:
    """A 422 when any string of a decoded body, key or value, holds U+0000.

    No field of ours may hold one, and Postgres cannot store or even compare such a string:
    without this check it would fail deep inside a query as a 500 (whose log would show
    the query's parameters). Bodies nest at most a few levels; depth is bounded by the
    parsers (orjson: 1024)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ApiError(422, "invalid", NUL_DETAIL)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


async def read_body(request: Request, max_bytes: int = MAX_JSON_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "too_large", f"The body is larger than {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, "too_large", f"The body is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def handler_for(handlers: Mapping[Any, Any], exc: Exception) -> Any:
    """The app's handler for ``exc``, by the nearest class in its MRO, as Starlette's
    exception middleware looks it up (for the doors that skip that middleware); or None."""
    return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
