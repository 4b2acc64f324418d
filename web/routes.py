"""Every route of the app, gathered from the modules that own them.

Each module exports ``routes``; add yours to the list below (append; never replace it).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from web import media, openapi, ops, pages, webhooks, widget_assets, ws
from web.api import (
    admin,
    ai,
    calendars,
    canned,
    channels,
    consent,
    contacts,
    conversations,
    flows,
    ingest,
    legal_holds,
    me,
    sessions,
    teams,
    tokens,
    twofa,
    widget,
    workspace_lifecycle,
)


def all_routes() -> list[BaseRoute]:
    return [
        *ops.routes,
        *sessions.routes,
        *twofa.routes,
        *tokens.routes,
        *me.routes,
        *legal_holds.routes,
        *admin.routes,
        *workspace_lifecycle.routes,
        *channels.routes,
        *conversations.routes,
        *contacts.routes,
        *flows.routes,
        *teams.routes,
        *consent.routes,
        *canned.routes,
        *ingest.routes,
        *widget.routes,
        *ai.routes,
        *widget_assets.routes,
        *webhooks.routes,
        *media.routes,
        *ws.routes,
        *calendars.routes,
        *pages.routes,
        *openapi.routes,
    ]
