"""Every route of the app, gathered from the modules that own them."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web import ops, ws
from web.api import conversations, ingest, widget


def all_routes() -> list[BaseRoute]:
    return [
        *ops.routes,
        *conversations.routes,
        *ingest.routes,
        *widget.routes,
        *ws.routes,
    ]
