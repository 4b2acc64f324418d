"""Who a private note @mentions: operators of the note's workspace named after an ``@``.

An operator is named by ``@`` and their full name, their first name, or the part of their
email address before the ``@`` (``@Ada Lovelace``, ``@ada``, ``@ada.l``), case-insensitively
and ending at a non-word character. Disabled operators are never notified.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import models as m


def names_of(name: str | None, email: str) -> set[str]:
    """The handles an operator answers to, lower-cased."""
    handles = {email.split("@", 1)[0].lower()}
    if name and name.strip():
        handles.add(name.strip().lower())
        handles.add(name.split()[0].lower())
    return {h for h in handles if h}


def mentioned(text: str, handles: set[str]) -> bool:
    lowered = text.lower()
    return any(re.search(rf"@{re.escape(h)}(?!\w)", lowered) for h in handles)


def resolver(
    db: async_sessionmaker[AsyncSession],
) -> Callable[[str, str], Awaitable[list[str]]]:
    """The hub's ``resolve_mentions``: (workspace id, note text) -> operator ids named."""

    async def resolve(workspace_id: str, text: str) -> list[str]:
        async with db() as session:
            rows = await session.execute(
                select(m.Operator.id, m.Operator.name, m.Operator.email).where(
                    m.Operator.workspace_id == workspace_id, m.Operator.disabled.is_(False)
                )
            )
            return [r.id for r in rows if mentioned(text, names_of(r.name, r.email))]

    return resolve
