"""Every route of the app, gathered from the modules that own them.

Each module exports ``routes``; add yours to the list below (append; never replace it).
The doors that take one request per message come first: Starlette tries routes in order,
and matching some sixty patterns was a few per cent of an ingest request's CPU.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from web import account_pages, media, openapi, ops, pages, webhooks, widget_assets, ws
from web.api import (
    admin,
    ai,
    ai_documents,
    audit_log,
    avatar,
    billing,
    calendars,
    canned,
    channel_edit,
    channels,
    consent,
    contacts,
    conversations,
    csat,
    files,
    flows,
    ingest,
    invites,
    legal_holds,
    me,
    notifications,
    password_reset,
    profile,
    sessions,
    teams,
    tokens,
    twofa,
    widget,
    workspace_lifecycle,
)


def all_routes() -> list[BaseRoute]:
    return [
        *ingest.routes,
        *webhooks.routes,
        *ops.routes,
        *sessions.routes,
        *twofa.routes,
        *tokens.routes,
        *me.routes,
        *profile.routes,
        *avatar.routes,
        *notifications.routes,
        *legal_holds.routes,
        *billing.routes,
        *admin.routes,
        *audit_log.routes,
        *workspace_lifecycle.routes,
        *channels.routes,
        *channel_edit.routes,
        *conversations.routes,
        *contacts.routes,
        *flows.routes,
        *teams.routes,
        *consent.routes,
        *canned.routes,
        *csat.routes,
        *widget.routes,
        *ai.routes,
        *ai_documents.routes,
        *widget_assets.routes,
        *media.routes,
        *files.routes,
        *ws.routes,
        *calendars.routes,
        *invites.routes,
        *password_reset.routes,
        *account_pages.routes,
        *pages.routes,
        *openapi.routes,
    ]


def per_message_routes() -> list[Route]:
    """The doors that take one request per message (ingest, channel webhooks): served by
    :class:`web.direct_doors.DirectDoors` ahead of the router, and listed above as well."""
    doors = (*ingest.routes, *webhooks.routes)
    return [r for r in doors if r.path.startswith(("/api/ingest/", "/webhooks/"))]
