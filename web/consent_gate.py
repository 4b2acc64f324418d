"""The hub's own consent gate. Where a workspace asks for consent before chatting
(Settings → Workspace), the widget asks first; this refuses a visitor's message from any
client until their answer is a yes to the current text, so the promise does not rest on
the widget alone. The question itself is read at most every two seconds per workspace:
a workspace that asks nothing costs no query per message."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from hub.service import ConsentCheck, VisitorPrincipal
from storage import consent

if TYPE_CHECKING:
    from web.services import Services

QUESTION_TTL_S = 2.0
REFUSAL = (
    "This business asks for your consent before chatting: answer its question first "
    "(the widget session carries it; POST /api/widget/consent answers it)."
)


def consent_check(services: Services) -> ConsentCheck:
    """The visitor socket's check, one callable per process."""
    asks: dict[str, tuple[float, bool]] = {}  # workspace id -> (read at, asks)

    async def asked(workspace_id: str) -> bool:
        now = time.monotonic()
        known = asks.get(workspace_id)
        if known is not None and now - known[0] < QUESTION_TTL_S:
            return known[1]
        async with services.engine.connect() as conn:
            enabled = bool((await consent.settings(conn, workspace_id))["enabled"])
        if len(asks) > 10_000:
            asks.clear()
        asks[workspace_id] = (now, enabled)
        return enabled

    async def check(visitor: VisitorPrincipal) -> str | None:
        if not await asked(visitor.workspace_id):
            return None
        async with services.engine.connect() as conn:
            answer = await consent.for_visitor(conn, visitor.workspace_id, visitor.contact_id)
        return None if answer["granted"] else REFUSAL

    return check
