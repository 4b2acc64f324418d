"""The erasure ledger's one-way hash of an erased contact, and the question it answers:
was this contact id erased? (A widget visitor's reserved contact id must never come back
once its contact was erased.)"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import models as m
from storage.models import table_of

T_LEDGER = table_of(m.ErasureLedgerEntry)


def erased_contact_hash(workspace_id: str, contact_id: str) -> str:
    """What the erasure ledger keeps of an erased contact: no id, only this hash."""
    return hashlib.sha256(f"{workspace_id}\x00{contact_id}".encode()).hexdigest()


async def erased(conn: AsyncConnection, workspace_id: str, contact_ids: list[str]) -> set[str]:
    """Those of ``contact_ids`` whose contact was erased in ``workspace_id``."""
    if not contact_ids:
        return set()
    hashes = {erased_contact_hash(workspace_id, c): c for c in contact_ids}
    rows = await conn.execute(
        select(T_LEDGER.c.contact_hash).where(
            T_LEDGER.c.workspace_id == workspace_id, T_LEDGER.c.contact_hash.in_(list(hashes))
        )
    )
    return {hashes[r.contact_hash] for r in rows}
