"""Flows as rows: drafts, numbered frozen versions, and the published flows a trigger
looks through (by priority)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.model import rfc3339, utcnow
from hub.store import NotFound
from storage import models as m


def to_wire(flow: m.Flow) -> dict[str, Any]:
    """The contract's flow: ``{id, name, trigger, start, steps, status, version, priority}``
    (the draft's document, and the newest published version's number)."""
    document = flow.definition or {}
    return {
        "id": flow.id,
        "name": flow.name,
        "trigger": document.get("trigger"),
        "start": document.get("start"),
        "steps": document.get("steps", {}),
        "status": flow.status,
        "version": flow.version,
        "priority": flow.priority,
        "created_at": rfc3339(flow.created_at),
        "updated_at": rfc3339(flow.updated_at or flow.created_at),
    }


def _trigger_on(document: dict[str, Any]) -> str:
    trigger = document.get("trigger")
    on = trigger.get("on") if isinstance(trigger, dict) else None
    return str(on)[:32] if on else ""


async def create(
    db: AsyncSession, workspace_id: str, name: str, document: dict[str, Any], priority: int
) -> m.Flow:
    flow = m.Flow(
        workspace_id=workspace_id,
        name=name,
        trigger=_trigger_on(document),
        definition=document,
        priority=priority,
        status="draft",
    )
    db.add(flow)
    await db.flush()
    return flow


async def get(db: AsyncSession, workspace_id: str, flow_id: str) -> m.Flow:
    flow = await db.get(m.Flow, flow_id)
    if flow is None or flow.workspace_id != workspace_id:
        raise NotFound(flow_id)
    return flow


async def list_flows(db: AsyncSession, workspace_id: str) -> list[m.Flow]:
    rows = await db.scalars(
        select(m.Flow).where(m.Flow.workspace_id == workspace_id).order_by(m.Flow.created_at)
    )
    return list(rows)


def edit(
    flow: m.Flow, *, name: str | None, document: dict[str, Any] | None, priority: int | None
) -> None:
    """Change the draft; a published version stays as it was published."""
    if name is not None:
        flow.name = name
    if document is not None:
        flow.definition = document
        flow.trigger = _trigger_on(document)
    if priority is not None:
        flow.priority = priority
    flow.updated_at = utcnow()


async def publish(db: AsyncSession, flow: m.Flow, document: dict[str, Any]) -> m.FlowVersion:
    """Freeze ``document`` (the validated draft) as the flow's next version."""
    newest = await db.scalar(
        select(func.max(m.FlowVersion.version)).where(m.FlowVersion.flow_id == flow.id)
    )
    version = m.FlowVersion(
        workspace_id=flow.workspace_id,
        flow_id=flow.id,
        version=(newest or 0) + 1,
        document=document,
    )
    db.add(version)
    flow.version = version.version
    flow.status = "published"
    flow.updated_at = utcnow()
    await db.flush()
    return version


def unpublish(flow: m.Flow) -> None:
    """No new runs start; runs already going keep their version."""
    flow.status = "draft"
    flow.updated_at = utcnow()


async def version_document(db: AsyncSession, flow_id: str, version: int) -> dict[str, Any]:
    row = await db.scalar(
        select(m.FlowVersion).where(
            m.FlowVersion.flow_id == flow_id, m.FlowVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"{flow_id} v{version}")
    return row.document


async def published(db: AsyncSession, workspace_id: str, ons: tuple[str, ...]) -> list[m.Flow]:
    """The workspace's published flows with one of these triggers, highest priority first
    (then the oldest, so a tie always resolves the same way)."""
    rows = await db.scalars(
        select(m.Flow)
        .where(m.Flow.workspace_id == workspace_id, m.Flow.status == "published")
        .where(m.Flow.trigger.in_(ons))
        .order_by(m.Flow.priority.desc(), m.Flow.created_at)
    )
    return list(rows)


async def no_reply_flows(db: AsyncSession) -> list[m.Flow]:
    """Every workspace's published ``no_reply`` flows, highest priority first."""
    rows = await db.scalars(
        select(m.Flow)
        .where(m.Flow.status == "published", m.Flow.trigger == "no_reply")
        .order_by(m.Flow.workspace_id, m.Flow.priority.desc(), m.Flow.created_at)
        .limit(1000)
    )
    return list(rows)
