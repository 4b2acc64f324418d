"""What the inbox notifies an operator of, kept on the server so it follows them from
browser to browser: ``GET/PUT /api/me/notifications``.

``new_conversations``: a visitor or customer opens a conversation; ``assigned``: a message
in a conversation assigned to them; ``mentions``: a colleague's private note names them;
``sound``: a short tone with each. All on by default. Whether the browser may show
notifications at all is the browser's permission, asked once from a click in the inbox
(``web/static/notify.js``); these preferences choose among the events.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storage import models as m
from web.auth.context import require
from web.contracts import profile as profile_contract
from web.contracts.profile import NotificationPrefs
from web.errors import ApiError
from web.operation import declare


def prefs_of(stored: dict[str, Any] | None) -> NotificationPrefs:
    """The operator's stored preferences over the defaults (unknown keys ignored)."""
    fields = {f.name for f in msgspec.structs.fields(NotificationPrefs)}
    known = {k: v for k, v in (stored or {}).items() if k in fields and isinstance(v, bool)}
    return NotificationPrefs(**known)


@declare(profile_contract.GET_NOTIFICATION_PREFS)
async def get_prefs(request: Request) -> Response:
    who = await require(request)
    async with request.app.state.services.db() as db:
        operator = await db.get(m.Operator, who.operator_id)
        if operator is None:
            raise ApiError(404, "not_found", "There is no such operator.")
        return JSONResponse(msgspec.to_builtins(prefs_of(operator.notify)))


@declare(profile_contract.PUT_NOTIFICATION_PREFS)
async def put_prefs(request: Request) -> Response:
    who = await require(request)
    body = await profile_contract.PUT_NOTIFICATION_PREFS.parse(
        request, profile_contract.NotificationPrefs
    )
    async with request.app.state.services.db() as db, db.begin():
        operator = await db.get(m.Operator, who.operator_id)
        if operator is None:
            raise ApiError(404, "not_found", "There is no such operator.")
        operator.notify = msgspec.to_builtins(body)
    return JSONResponse(msgspec.to_builtins(body))


routes = [
    Route("/api/me/notifications", get_prefs, methods=["GET"]),
    Route("/api/me/notifications", put_prefs, methods=["PUT"]),
]
