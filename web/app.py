"""The Starlette app factory: the composition root that wires hub, storage and adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp

from web import config, failures
from web.direct_doors import DirectDoors
from web.errors import ApiError, api_error_handler, http_error_handler, server_error_handler
from web.guard import RejectNul
from web.headers import SecurityHeaders
from web.request_timer import RequestTimer
from web.routes import all_routes, per_message_routes
from web.services import Services
from web.worker import start_in_process
from web.ws_door import SocketDoor, socket_handlers

log = logging.getLogger("inviaro")


class _App(Starlette):
    """Starlette with its WebSocket routes served around the middleware (web.ws_door)."""

    def build_middleware_stack(self) -> ASGIApp:
        sockets = [r for r in self.routes if isinstance(r, WebSocketRoute)]
        handlers = socket_handlers(self.exception_handlers)
        return SocketDoor(super().build_middleware_stack(), sockets, handlers)


def create_app(settings: config.Settings | None = None) -> Starlette:
    settings = settings or config.load()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await Services.start(settings)
        app.state.services = services
        start_in_process(services)
        try:
            yield
        finally:
            # Bounded: with the database stalled the writer's last commit may never end;
            # what it held was never acknowledged, so giving up loses nothing acked.
            try:
                await asyncio.wait_for(services.close(), settings.shutdown_timeout_s)
            except TimeoutError:
                log.warning(
                    "shutdown did not finish in %s s (INVIARO_SHUTDOWN_TIMEOUT_S); exiting",
                    settings.shutdown_timeout_s,
                )

    handlers = {
        ApiError: api_error_handler,
        HTTPException: http_error_handler,
        **failures.handlers(),
    }
    app = _App(
        routes=all_routes(),
        middleware=[
            Middleware(RequestTimer),
            Middleware(SecurityHeaders, settings=settings),
            Middleware(RejectNul),
            Middleware(DirectDoors, routes=per_message_routes(), handlers=handlers),
        ],
        exception_handlers={**handlers, Exception: server_error_handler},
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
