"""The safety net under :mod:`web.gone`: each process re-checks its own sockets.

Every heartbeat (and right after the bus comes back from an outage) :func:`sweep` re-checks
against the database every session, API token, workspace, channel and conversation that a
local socket depends on, and closes (1008) the sockets of what is gone: revoked, expired,
idle past ``session_idle_s``, disabled, deleted, purged or erased, or an operator left
without the second factor their workspace requires. One query per kind for all local
sockets, so its cost does not grow per socket.

Activity: an operator socket's frames other than ``ping`` count as its session's activity
(a keepalive alone does not keep an unattended session alive). The endpoint notes them in
``services.socket_activity``; the sweep writes them to ``sessions.last_seen_at`` before it
looks for idle sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.gone import Gone, Kind, Ref
from hub.model import utcnow
from storage import models as m
from web.auth.context import live_tokens
from web.auth.sessions import live_sessions, session_fresh

if TYPE_CHECKING:
    from web.services import Services

CHUNK = 5000  # ids per query: far below every database's bound on parameters

Query = Callable[[Sequence[str]], Select[str]]


async def sweep(services: Services) -> None:
    """Close local sockets whose principal is gone according to the database."""
    holders = services.holders
    now = utcnow()
    await _record_activity(services, now)
    idle_s = services.settings.session_idle_s

    def sessions(ids: Sequence[str]) -> Select[str]:
        stmt = live_sessions(select(m.Session.id), now, idle_s, allow_pending_2fa=False)
        return stmt.where(m.Session.id.in_(ids))

    def tokens(ids: Sequence[str]) -> Select[str]:
        return live_tokens(select(m.ApiToken.id), allow_pending_2fa=False).where(
            m.ApiToken.id.in_(ids)
        )

    def workspaces(ids: Sequence[str]) -> Select[str]:
        return select(m.Workspace.id).where(
            m.Workspace.id.in_(ids), m.Workspace.deleted_at.is_(None)
        )

    def channels(ids: Sequence[str]) -> Select[str]:
        return (
            select(m.Channel.id)
            .join(m.Workspace, m.Workspace.id == m.Channel.workspace_id)
            .where(m.Channel.id.in_(ids), m.Channel.disabled.is_(False))
            .where(m.Workspace.deleted_at.is_(None))
        )

    def conversations(ids: Sequence[str]) -> Select[str]:
        return select(m.Conversation.id).where(m.Conversation.id.in_(ids))

    queries: dict[Kind, Query] = {
        "session": sessions,
        "token": tokens,
        "workspace": workspaces,
        "channel": channels,
        "conversation": conversations,
    }
    dead: list[Ref] = []
    async with services.db() as db:
        for kind, query in queries.items():
            ids = holders.ids(kind)
            if ids:
                alive = await _alive(db, ids, query)
                dead += (Ref(kind, i) for i in ids if i not in alive)
    if dead:
        holders.apply(Gone("expired", tuple(dead)))


async def _alive(db: AsyncSession, ids: Sequence[str], query: Query) -> set[str]:
    alive: set[str] = set()
    for chunk in _chunks(ids):
        alive.update((await db.scalars(query(chunk))).all())
    return alive


async def _record_activity(services: Services, now: datetime) -> None:
    """Write the sessions whose sockets were active since the last sweep as seen now (never
    reviving one that was already idle, revoked or past its expiry)."""
    active = services.socket_activity
    if not active:
        return
    ids = list(active)
    active.clear()
    fresh = session_fresh(now, services.settings.session_idle_s)
    async with services.db() as db:
        for chunk in _chunks(ids):
            await db.execute(
                update(m.Session).where(m.Session.id.in_(chunk), *fresh).values(last_seen_at=now)
            )
        await db.commit()


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
