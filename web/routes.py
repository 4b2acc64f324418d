"""Every route of the app, gathered from the modules that own them.

Each module exports ``routes``; add yours to the list below (append; never replace it).
The doors that take one request per message come first: Starlette tries routes in order,
and matching some sixty patterns was a few per cent of an ingest request's CPU.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from web import media, openapi, ops, pages, webhooks, widget_assets, ws
from web.api import (
    account,
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
    teams,
    widget,
    workspace_lifecycle,
)


def all_routes() -> list[BaseRoute]:
    return [
        *ingest.routes,
        *webhooks.routes,
        *ops.routes,
        *account.routes,
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
        *widget.routes,
        *ai.routes,
        *widget_assets.routes,
        *media.routes,
        *ws.routes,
        *calendars.routes,
        *pages.routes,
        *openapi.routes,
    ]
