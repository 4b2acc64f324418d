"""The documents a workspace maintains for ``ai_reply`` (docs/ai.md "Documents").

They are the business's own text, not anyone's personal data: they live until an owner or
admin deletes them or the workspace is deleted (the foreign key cascades), and they are
not part of a contact's export or erasure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.knowledge import Document
from hub.model import rfc3339
from hub.store import NotFound
from storage import models as m

# How many documents a workspace may keep, and how long each may be: enough for a
# handbook, small enough that ranking them for each question stays cheap.
MAX_DOCUMENTS = 200
MAX_CHARS = 100_000


def to_wire(doc: m.AiDocument, with_text: bool = True) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": doc.id,
        "title": doc.title,
        "chars": len(doc.text),
        "created_at": rfc3339(doc.created_at),
        "updated_at": rfc3339(doc.updated_at),
    }
    if with_text:
        wire["text"] = doc.text
    return wire


async def list_documents(db: AsyncSession, workspace_id: str) -> list[m.AiDocument]:
    rows = await db.scalars(
        select(m.AiDocument)
        .where(m.AiDocument.workspace_id == workspace_id)
        .order_by(m.AiDocument.title, m.AiDocument.id)
    )
    return list(rows)


async def count(db: AsyncSession, workspace_id: str) -> int:
    found = await db.scalar(
        select(func.count(m.AiDocument.id)).where(m.AiDocument.workspace_id == workspace_id)
    )
    return int(found or 0)


async def get(db: AsyncSession, workspace_id: str, document_id: str) -> m.AiDocument:
    doc = await db.get(m.AiDocument, document_id)
    if doc is None or doc.workspace_id != workspace_id:
        raise NotFound(document_id)
    return doc


async def knowledge(db: AsyncSession, workspace_id: str) -> list[Document]:
    """Every document of the workspace as ``ai_reply`` ranks them."""
    return [Document(d.title, d.text) for d in await list_documents(db, workspace_id)]
