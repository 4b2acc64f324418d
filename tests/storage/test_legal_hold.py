"""A legal hold keeps audit and security log entries past their 90 days until lifted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.store import NotFound
from storage import legal_hold
from storage import models as m
from storage.db import sessionmaker
from storage.retention import purge_expired
from tests.storage.conftest import make_workspace

INCIDENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
AS_OF = INCIDENT + timedelta(days=200)  # far past the 90 days of every entry below


async def add_entries(engine: AsyncEngine, workspace_id: str, **at: datetime) -> None:
    async with sessionmaker(engine)() as session, session.begin():
        session.add_all(
            m.AuditEntry(workspace_id=workspace_id, actor_kind="system", action=action, at=when)
            for action, when in at.items()
        )


async def actions(engine: AsyncEngine, workspace_id: str) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.scalars(
            select(m.AuditEntry.action).where(m.AuditEntry.workspace_id == workspace_id)
        )
        return set(rows)


async def place(
    engine: AsyncEngine, workspace_id: str | None, start: datetime, end: datetime
) -> str:
    async with engine.begin() as conn:
        hold = await legal_hold.place(
            conn, workspace_id, start.isoformat(), end.isoformat(), "incident 42", "op_x"
        )
    return str(hold["id"])


async def test_a_held_entry_survives_the_purge_and_an_unheld_one_goes(
    engine: AsyncEngine,
) -> None:
    ws = await make_workspace(engine)
    await add_entries(
        engine,
        ws.id,
        held=INCIDENT,
        before=INCIDENT - timedelta(days=2),
        after=INCIDENT + timedelta(days=2),
    )
    await place(engine, ws.id, INCIDENT - timedelta(hours=1), INCIDENT + timedelta(hours=1))
    report = await purge_expired(engine, as_of=AS_OF)
    assert await actions(engine, ws.id) == {"held"}
    assert report.audit_entries_held >= 1


async def test_lifting_the_hold_lets_the_entry_go(engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    await add_entries(engine, ws.id, held=INCIDENT)
    hold_id = await place(engine, ws.id, INCIDENT, INCIDENT + timedelta(days=1))
    await purge_expired(engine, as_of=AS_OF)
    assert await actions(engine, ws.id) == {"held"}
    async with engine.begin() as conn:
        lifted = await legal_hold.lift(conn, ws.id, hold_id, "op_x")
    assert lifted["lifted_at"] and lifted["lifted_by"] == "op_x"
    await purge_expired(engine, as_of=AS_OF)
    assert await actions(engine, ws.id) == set()


async def test_a_workspace_hold_keeps_only_that_workspaces_entries(engine: AsyncEngine) -> None:
    ws, other = await make_workspace(engine), await make_workspace(engine)
    await add_entries(engine, ws.id, mine=INCIDENT)
    await add_entries(engine, other.id, theirs=INCIDENT)
    await place(engine, ws.id, INCIDENT - timedelta(hours=1), INCIDENT + timedelta(hours=1))
    await purge_expired(engine, as_of=AS_OF)
    assert await actions(engine, ws.id) == {"mine"}
    assert await actions(engine, other.id) == set()


async def test_the_end_of_a_hold_is_exclusive(engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    await add_entries(engine, ws.id, start=INCIDENT, end=INCIDENT + timedelta(hours=1))
    await place(engine, ws.id, INCIDENT, INCIDENT + timedelta(hours=1))
    await purge_expired(engine, as_of=AS_OF)
    assert await actions(engine, ws.id) == {"start"}


async def test_a_deleted_workspace_with_held_entries_waits_for_the_lifting(
    engine: AsyncEngine,
) -> None:
    ws = await make_workspace(engine)
    await add_entries(engine, ws.id, held=INCIDENT)
    hold_id = await place(engine, ws.id, INCIDENT, INCIDENT + timedelta(days=1))
    async with engine.begin() as conn:
        await conn.execute(
            update(m.Workspace).where(m.Workspace.id == ws.id).values(deleted_at=INCIDENT)
        )
    report = await purge_expired(engine, as_of=AS_OF)
    assert report.workspaces_held >= 1
    assert await actions(engine, ws.id) == {"held"}
    async with engine.begin() as conn:
        await legal_hold.lift(conn, ws.id, hold_id, None)
    await purge_expired(engine, as_of=AS_OF)
    async with engine.connect() as conn:
        assert await conn.scalar(select(m.Workspace.id).where(m.Workspace.id == ws.id)) is None


async def test_a_hold_is_lifted_once(engine: AsyncEngine) -> None:
    ws = await make_workspace(engine)
    hold_id = await place(engine, ws.id, INCIDENT, INCIDENT + timedelta(days=1))
    async with engine.begin() as conn:
        await legal_hold.lift(conn, ws.id, hold_id, None)
    with pytest.raises(NotFound):
        async with engine.begin() as conn:
            await legal_hold.lift(conn, ws.id, hold_id, None)


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        ("2026-03-10T00:00:00Z", "2026-03-09T00:00:00Z", "backwards"),
        ("2026-03-10T00:00:00", "2026-03-11T00:00:00Z", "no zone"),
        ("yesterday", "2026-03-11T00:00:00Z", "not a time"),
        ("2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z", " "),
        (None, "2026-03-11T00:00:00Z", "missing"),
    ],
)
def test_a_malformed_hold_is_refused(start: object, end: object, reason: str) -> None:
    with pytest.raises(legal_hold.InvalidHold):
        legal_hold.validate(start, end, reason)
