"""Consent to a purpose the workspace defines, asked by the widget before chatting.

Off by default: a workspace without ``consent_text`` asks nothing. Setting a text turns it
on; every new text gets the next ``consent_version``, so an answer to an older text no
longer counts and the widget asks again. Each answer (given, refused, withdrawn by the
visitor, or a withdrawal an operator records) is a :class:`storage.models.ConsentRecord`
with the text as shown, its version and the time; the newest is the current answer.
Records go with their contact (erasure, retention) and are part of its export.

A widget visitor who has not written yet has no contact (:mod:`storage.reserved`): their
answers wait as :class:`storage.models.PendingConsent` rows under the reserved contact id
and become consent records, with their own times, when the first message creates the
contact (:func:`attach_pending`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.ids import new_id
from hub.model import rfc3339, utcnow
from hub.store import NotFound
from storage import models as m
from storage.models import table_of

MAX_TEXT = 2000
T_WS = table_of(m.Workspace)
T_CONTACT = table_of(m.Contact)
T_CONSENT = table_of(m.ConsentRecord)
T_PENDING = table_of(m.PendingConsent)
Source = Literal["visitor", "operator"]


class InvalidConsent(ValueError):
    """The sentence says what is wrong."""


class OutdatedConsent(ValueError):
    """An answer to a text that is no longer the workspace's current one."""


def record_json(row: Any) -> dict[str, Any]:
    return {
        "granted": row.granted,
        "version": row.version,
        "text": row.text,
        "source": row.source,
        "operator_id": row.operator_id,
        "at": rfc3339(row.at),
    }


async def settings(conn: AsyncConnection, workspace_id: str) -> dict[str, Any]:
    """``{enabled, text, version}`` of the workspace's question."""
    row = (
        await conn.execute(
            select(T_WS.c.consent_text, T_WS.c.consent_version).where(T_WS.c.id == workspace_id)
        )
    ).one()
    return {
        "enabled": row.consent_text is not None,
        "text": row.consent_text,
        "version": row.consent_version,
    }


ASKING_CHUNK = 1000  # ids per statement, far below any driver's parameter limit


async def asking(conn: AsyncConnection, workspace_ids: Collection[str]) -> set[str]:
    """Which of these workspaces ask their question now (one query per thousand)."""
    ids = list(workspace_ids)
    found: set[str] = set()
    for start in range(0, len(ids), ASKING_CHUNK):
        chunk = ids[start : start + ASKING_CHUNK]
        rows = await conn.execute(
            select(T_WS.c.id).where(T_WS.c.id.in_(chunk), T_WS.c.consent_text.is_not(None))
        )
        found.update(rows.scalars())
    return found


async def set_question(
    conn: AsyncConnection, workspace_id: str, enabled: Any, text: Any
) -> dict[str, Any]:
    """Turn the question on with ``text`` (a new text gets the next version) or off."""
    if not isinstance(enabled, bool):
        raise InvalidConsent("'enabled' must be true or false.")
    current = await settings(conn, workspace_id)
    if not enabled:
        values: dict[str, Any] = {"consent_text": None}
    else:
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise InvalidConsent(f"'text' must say the purpose in 1 to {MAX_TEXT} characters.")
        values = {"consent_text": text.strip()}
        if text.strip() != current["text"]:
            values["consent_version"] = current["version"] + 1
    await conn.execute(update(T_WS).where(T_WS.c.id == workspace_id).values(**values))
    return await settings(conn, workspace_id)


async def current(conn: AsyncConnection, contact_id: str) -> dict[str, Any] | None:
    """The contact's newest answer, or None when it never answered."""
    row = (
        await conn.execute(
            select(T_CONSENT)
            .where(T_CONSENT.c.contact_id == contact_id)
            .order_by(T_CONSENT.c.at.desc(), T_CONSENT.c.id.desc())
            .limit(1)
        )
    ).first()
    return record_json(row) if row is not None else None


async def history(conn: AsyncConnection, contact_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(T_CONSENT)
        .where(T_CONSENT.c.contact_id == contact_id)
        .order_by(T_CONSENT.c.at, T_CONSENT.c.id)
    )
    return [record_json(r) for r in rows]


async def _current_pending(conn: AsyncConnection, contact_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(T_PENDING)
            .where(T_PENDING.c.contact_id == contact_id)
            .order_by(T_PENDING.c.at.desc(), T_PENDING.c.id.desc())
            .limit(1)
        )
    ).first()
    return {"granted": row.granted, "version": row.version} if row is not None else None


async def for_visitor(conn: AsyncConnection, workspace_id: str, contact_id: str) -> dict[str, Any]:
    """What the widget needs: the question (text, version, or None when off) and whether
    this visitor's current answer (or, before their first message, their pending one) is a
    yes to exactly this version."""
    question = await settings(conn, workspace_id)
    answer = await current(conn, contact_id) or await _current_pending(conn, contact_id)
    agreed = bool(answer and answer["granted"] and answer["version"] == question["version"])
    return {
        "text": question["text"] if question["enabled"] else None,
        "version": question["version"],
        "granted": agreed,
    }


async def record(
    conn: AsyncConnection,
    workspace_id: str,
    contact_id: str,
    *,
    granted: bool,
    version: int | None,
    source: Source,
    operator_id: str | None = None,
    reserved: bool = False,
) -> dict[str, Any]:
    """Store one answer. A yes must name the current version (else
    :class:`OutdatedConsent`); a withdrawal is always accepted and records the current
    text. NotFound for a contact outside the workspace; InvalidConsent when the workspace
    asks nothing. With ``reserved`` (a widget visitor's contact id, vouched for by its
    signed token, not erased), an answer given before the contact exists is held pending
    until the visitor's first message creates it."""
    exists = await conn.scalar(
        select(T_CONTACT.c.id).where(
            T_CONTACT.c.id == contact_id, T_CONTACT.c.workspace_id == workspace_id
        )
    )
    if exists is None and not reserved:
        raise NotFound("no such contact in this workspace")
    question = await settings(conn, workspace_id)
    if not question["enabled"]:
        raise InvalidConsent("This workspace asks for no consent.")
    if granted and version != question["version"]:
        raise OutdatedConsent("The consent text changed; read the new one and answer again.")
    if exists is None:
        held = {
            "granted": granted,
            "version": question["version"],
            "text": question["text"],
            "at": utcnow(),
        }
        await conn.execute(
            T_PENDING.insert().values(
                id=new_id("pc_"), workspace_id=workspace_id, contact_id=contact_id, **held
            )
        )
        return {**held, "at": rfc3339(held["at"]), "source": source, "operator_id": None}
    row_id = new_id("cr_")
    await conn.execute(
        T_CONSENT.insert().values(
            id=row_id,
            workspace_id=workspace_id,
            contact_id=contact_id,
            granted=granted,
            version=question["version"],
            text=question["text"],
            source=source,
            operator_id=operator_id,
            at=utcnow(),
        )
    )
    row = (await conn.execute(select(T_CONSENT).where(T_CONSENT.c.id == row_id))).one()
    return record_json(row)


async def attach_pending(conn: AsyncConnection, workspace_id: str, contact_ids: list[str]) -> int:
    """The contacts were just created: their pending answers become their consent records
    (same times, texts and versions). Returns how many moved."""
    if not contact_ids:
        return 0
    rows = list(
        await conn.execute(
            select(T_PENDING).where(
                T_PENDING.c.workspace_id == workspace_id,
                T_PENDING.c.contact_id.in_(contact_ids),
            )
        )
    )
    if not rows:
        return 0
    await conn.execute(
        T_CONSENT.insert(),
        [
            {
                "id": new_id("cr_"),
                "workspace_id": workspace_id,
                "contact_id": r.contact_id,
                "granted": r.granted,
                "version": r.version,
                "text": r.text,
                "source": "visitor",
                "operator_id": None,
                "at": r.at,
            }
            for r in rows
        ],
    )
    await conn.execute(delete(T_PENDING).where(T_PENDING.c.id.in_([r.id for r in rows])))
    return len(rows)


async def purge_pending(conn: AsyncConnection, before: datetime) -> int:
    """Pending answers given before ``before`` whose visitor never wrote: no token can
    name them any more, so they go (the ``inviaro purge`` and the worker's retention)."""
    result = await conn.execute(delete(T_PENDING).where(T_PENDING.c.at < before))
    return int(result.rowcount or 0)
