"""The doors that take one request per message (ingest, channel webhooks), served without
Starlette's routing layers.

Every such request used to pass the exception middleware, the router, the route and the
endpoint wrapper (which catches exceptions a second time): five layers that only find the
endpoint and turn its exceptions into answers. Serving the door here saves about 6 µs of
CPU a request (``bench/ingest_http_path.py``; bench/results/20261207-ingestcpu/README.md).
This pure-ASGI middleware sits innermost, after the request timer, the security headers
(CSRF included) and the NUL guard, so every answer still passes through those. A request
whose path and method match one of its routes in full is handed to that route's endpoint
directly, and what the endpoint raises is answered by the app's own exception handlers,
looked up as Starlette does (by the exception's class, most specific first); an exception
none handles goes on up to the server-error middleware (500), as before. Anything else,
a wrong method (405) included, goes on to the router unchanged. The routes stay in the
routing table as well, so ``/openapi.json`` does not change.

Every such route is a literal path with one parameter at its end (``/api/ingest/{channel_id}``),
so a request is matched by its path's start, its method and a last segment that holds no
``/`` (what Starlette's ``[^/]+`` for a string parameter matches), without a regex.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.convertors import StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from web.errors import handler_for

Handlers = Mapping[Any, Any]  # exception class -> async (request, exc) -> Response


class DirectDoors:
    def __init__(self, app: ASGIApp, routes: Sequence[Route], handlers: Handlers) -> None:
        for route in routes:
            if not inspect.iscoroutinefunction(route.endpoint):
                raise TypeError(f"{route.path}: a direct door needs an async endpoint")
        for handler in handlers.values():
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"{handler!r}: a direct door needs async exception handlers")
        self.app = app
        self.handlers = dict(handlers)
        # (the path's literal start, method) -> the route and its parameter's name
        self.doors: dict[tuple[str, str], tuple[Route, str]] = {}
        for route in routes:
            prefix, param = _literal_and_parameter(route)
            for method in route.methods or ():
                self.doors[prefix, method] = (route, param)
        # Most requests are told apart by these alone.
        self.prefixes = tuple({prefix for prefix, _ in self.doors})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            path: str = scope["path"]
            for prefix in self.prefixes:
                door = self.doors.get((prefix, scope["method"]))
                value = path[len(prefix) :] if path.startswith(prefix) else ""
                if door is None or not value or "/" in value:
                    continue
                route, param = door
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {**scope.get("path_params", {}), param: value}
                await self._serve(route, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response: Response = await route.endpoint(request)
        except Exception as exc:
            handler = handler_for(self.handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
            exc.__traceback__ = None  # a reused exception instance would pile them up
        await response(scope, receive, send)


def _literal_and_parameter(route: Route) -> tuple[str, str]:
    """``("/api/ingest/", "channel_id")`` for ``/api/ingest/{channel_id}``."""
    prefix, _, rest = route.path.partition("{")
    param = rest.removesuffix("}")
    convertors = route.param_convertors
    if list(convertors) != [param] or not isinstance(convertors[param], StringConvertor):
        raise TypeError(f"{route.path}: a direct door is a literal path and one parameter")
    return prefix, param
