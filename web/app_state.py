"""The typed way to what the app factory keeps on ``app.state``.

Starlette types ``app.state`` as ``Any``, so ``request.app.state.services`` would give every
caller an untyped object; :func:`services_of` is the one place that reads it. Kept apart
from :mod:`web.services` so that the modules it builds on can import it without a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from web.services import Services


def services_of(conn: HTTPConnection | Starlette) -> Services:
    """The process's :class:`web.services.Services`, for a request, a socket or the app
    (set by :func:`web.app.create_app` at start-up)."""
    app = conn if isinstance(conn, Starlette) else conn.app
    services: Services = app.state.services
    return services
