"""Answers for failures that are nobody's bug: storage unavailable, a client gone mid-request.

Registered once as exception handlers (:func:`web.app.create_app`), so every door answers
the same way: an HTTP request gets 503 with ``Retry-After``, a WebSocket handshake gets HTTP
503 too, and an open socket is closed with 1013 (overloaded: reconnect and resume). The log
says it once per outage (:class:`storage.faults.StorageHealth`), not once per request.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from sqlalchemy import exc as sa_exc
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.responses import Response
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket

from hub.store import Unavailable
from storage import faults
from web.errors import error_response, server_error_handler

log = logging.getLogger("inviaro.web")

RETRY_AFTER_S = 5
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_INTERNAL = 1011
ACCEPTED = "inviaro.accepted"  # set in a WebSocket's scope once it was accepted

# The exceptions a database that cannot answer raises (the handler checks which they are).
STORAGE_ERRORS = (
    Unavailable,
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)


async def storage_unavailable(conn: HTTPConnection, exc: Exception) -> Response | None:
    """503 (or close 1013) for an unreachable, stalled or overloaded database; anything
    else that merely shares an exception class is the bug it is (500, close 1011)."""
    if not isinstance(exc, Unavailable) and not faults.is_outage(exc):
        if isinstance(conn, WebSocket):
            log.error("unhandled error on %s", conn.url.path, exc_info=exc)
            await _close(conn, CLOSE_INTERNAL)
            return None
        return await server_error_handler(conn, exc)  # type: ignore[arg-type]
    if not isinstance(exc, Unavailable):  # the writer notes its own failures
        services = getattr(conn.app.state, "services", None)
        if services is not None:
            services.store.health.failed(exc)
    if isinstance(conn, WebSocket) and conn.scope.get(ACCEPTED):
        await _close(conn, CLOSE_TRY_AGAIN_LATER)
        return None
    # An HTTP answer, or the refusal of a WebSocket handshake (an HTTP response as well).
    return error_response(
        503,
        "unavailable",
        "The service cannot store or read data right now; retry shortly.",
        {"Retry-After": str(RETRY_AFTER_S)},
    )


async def _close(websocket: WebSocket, code: int) -> None:
    """Close the socket, which its client may have closed meanwhile (uvicorn then refuses
    a close frame: RuntimeError, or its ClientDisconnected, an OSError)."""
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code)


async def client_gone(conn: HTTPConnection, exc: Exception) -> Response:
    """The client disconnected while sending its body: nothing was read, nothing stored,
    and there is nobody to answer."""
    log.debug("client disconnected during %s", conn.url.path)
    return Response(status_code=400)


def handlers() -> dict[Any, ExceptionHandler]:
    """The exception handlers of this module, for the app's ``exception_handlers``."""
    outage: ExceptionHandler = storage_unavailable  # type: ignore[assignment]
    out: dict[Any, ExceptionHandler] = dict.fromkeys(STORAGE_ERRORS, outage)
    out[ClientDisconnect] = client_gone
    return out
