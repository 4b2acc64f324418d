"""Retention: delete what the workspace's settings say it no longer keeps.

One pass (:func:`purge_expired`) removes, in order:

1. conversations whose last activity (``last_message_at``, or ``created_at`` when there is
   none) is older than ``as_of - retention_days`` of their workspace, with their messages;
2. contacts of those workspaces left without any conversation (and their identities and
   bookings);
3. audit entries older than ``audit_retention_days`` (except those under an active legal
   hold, :mod:`storage.legal_hold`), expired sessions and sessions revoked more than a day ago,
   and consent answers of widget visitors who never wrote, after 30 days;
4. workspaces deleted (``deleted_at``) longer ago than ``workspace_recovery_days``,
   completely (a workspace with audit entries under a legal hold waits for its lifting);
5. the cached event metadata (the booking rows: summaries, times, provider ids) of
   calendars disconnected ``CALENDAR_CACHE_DAYS`` (30) days ago or more, with an audit
   entry per calendar (the privacy policy promises this);
6. invoices and payments older than ``billing_retention_years`` (10), which outlive
   their workspace until then (:mod:`storage.billing`);
7. media files whose conversation is gone (expired, erased, purged with its workspace) or
   never came (a visitor's upload before a first message never written), a day after the
   upload; then the files on disk that no row names any more (:mod:`storage.media`).

Every delete runs in batches of ``batch_size`` rows, each batch its own short transaction,
so the writer and the inbox are never blocked behind one long purge. Every batch re-checks
its condition inside its transaction: a conversation that receives a message while the
purge runs is kept (messages of it already past the limit may be gone: they were due too).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.ids import new_id
from hub.model import as_utc, rfc3339, utcnow
from storage import media
from storage import models as m
from storage.billing import RETENTION_YEARS, purge_billing
from storage.db import make_engine
from storage.legal_hold import held, workspace_has_held_entries
from storage.models import table_of

T_WS = table_of(m.Workspace)
T_CONTACT = table_of(m.Contact)
T_IDENT = table_of(m.ContactIdentity)
T_CONV = table_of(m.Conversation)
T_MSG = table_of(m.Message)
T_OUTBOX = table_of(m.OutboxItem)
T_TRIGGER = table_of(m.FlowTrigger)
T_BOOKING = table_of(m.Booking)
T_AI_CALL = table_of(m.AiCall)
T_AUDIT = table_of(m.AuditEntry)
T_SESSION = table_of(m.Session)
T_CALENDAR = table_of(m.CalendarConnection)
T_BOOKING_TYPE = table_of(m.BookingType)
T_CONSENT = table_of(m.ConsentRecord)
T_PENDING = table_of(m.PendingConsent)
# A widget visitor's consent answer held for a first message that never came.
PENDING_CONSENT_KEEP = timedelta(days=30)

AUDIT_RETENTION_DAYS = 90
WORKSPACE_RECOVERY_DAYS = 90
REVOKED_SESSION_KEEP = timedelta(days=1)
CALENDAR_CACHE_DAYS = 30

# Workspace-scoped tables, children before parents, for purging a workspace completely in
# batches (the final delete of the workspace row cascades whatever is left, e.g. sessions).
_WORKSPACE_TABLES: tuple[Table, ...] = (
    T_AI_CALL,
    T_OUTBOX,
    T_MSG,
    T_BOOKING,
    T_CONV,
    T_IDENT,
    table_of(m.ConsentRecord),
    T_PENDING,
    T_CONTACT,
    T_BOOKING_TYPE,
    T_CALENDAR,
    table_of(m.ApiToken),
    table_of(m.Flow),
    T_AUDIT,
    media.T_MEDIA,
)


@dataclass
class PurgeReport:
    """How many rows one purge removed (or, on a dry run, would remove)."""

    as_of: datetime
    dry_run: bool = False
    conversations: int = 0
    messages: int = 0
    contacts: int = 0
    audit_entries: int = 0
    sessions: int = 0
    pending_consents: int = 0
    workspaces: int = 0
    calendar_bookings: int = 0
    invoices: int = 0
    payments: int = 0
    billing_accounts: int = 0
    media_files: int = 0
    # Past retention but kept: under a legal hold (entries), or holding held entries.
    audit_entries_held: int = 0
    workspaces_held: int = 0

    def summary(self) -> str:
        """One line for the CLI and the worker's log: counts only, never personal data."""
        counts = ", ".join(
            f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}"
            for f in fields(self)
            if f.name not in ("as_of", "dry_run")
        )
        verb = "would delete" if self.dry_run else "deleted"
        tail = " (dry run: nothing was deleted)" if self.dry_run else ""
        return f"purge as of {rfc3339(self.as_of)} {verb} {counts}{tail}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["as_of"] = rfc3339(self.as_of)
        return out


def _last_activity() -> ColumnElement[Any]:
    return func.coalesce(T_CONV.c.last_message_at, T_CONV.c.created_at)


async def _count(engine: AsyncEngine, table: Table, where: ColumnElement[bool]) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(where)) or 0)


async def _delete_batched(
    engine: AsyncEngine, table: Table, where: ColumnElement[bool], batch_size: int
) -> int:
    """Delete the rows of ``table`` matching ``where``, ``batch_size`` at a time.

    ``DELETE … WHERE id IN (SELECT id … LIMIT n)`` works on SQLite and Postgres alike;
    each batch commits on its own so locks are held for one batch only.
    """
    total = 0
    while True:
        async with engine.begin() as conn:
            ids = select(table.c.id).where(where).limit(batch_size).scalar_subquery()
            result = await conn.execute(delete(table).where(table.c.id.in_(ids)))
        total += result.rowcount
        if result.rowcount < batch_size:
            return total


async def _purge_conversations(
    engine: AsyncEngine, workspace_id: str, cutoff: datetime, batch_size: int, report: PurgeReport
) -> None:
    expired = and_(T_CONV.c.workspace_id == workspace_id, _last_activity() < cutoff)
    if report.dry_run:
        report.conversations += await _count(engine, T_CONV, expired)
        report.messages += await _count(
            engine, T_MSG, T_MSG.c.conversation_id.in_(select(T_CONV.c.id).where(expired))
        )
        return
    saved: set[str] = set()  # became active while we purged: skip them from now on
    while True:
        async with engine.connect() as conn:
            query = select(T_CONV.c.id).where(expired)
            if saved:
                query = query.where(T_CONV.c.id.not_in(saved))
            batch = [r.id for r in await conn.execute(query.limit(batch_size))]
        if not batch:
            return
        # Still expired, re-checked in every statement: a message arriving meanwhile
        # updates last_message_at and saves its conversation.
        still = and_(T_CONV.c.id.in_(batch), _last_activity() < cutoff)
        in_still = T_MSG.c.conversation_id.in_(select(T_CONV.c.id).where(still))
        while True:
            async with engine.begin() as conn:
                ids = [
                    r.id
                    for r in await conn.execute(
                        select(T_MSG.c.id).where(in_still).limit(batch_size)
                    )
                ]
                if ids:
                    await conn.execute(delete(T_OUTBOX).where(T_OUTBOX.c.message_id.in_(ids)))
                    await conn.execute(delete(T_TRIGGER).where(T_TRIGGER.c.message_id.in_(ids)))
                    deleted = await conn.execute(delete(T_MSG).where(T_MSG.c.id.in_(ids)))
                    report.messages += deleted.rowcount
            if len(ids) < batch_size:
                break
        async with engine.begin() as conn:
            gone = select(T_CONV.c.id).where(still)
            if conn.dialect.name == "postgresql":
                gone = gone.with_for_update()
            gone_ids = [r.id for r in await conn.execute(gone)]
            if gone_ids:
                # Messages that slipped in between the batches above go with the cascade.
                await conn.execute(
                    update(T_BOOKING)
                    .where(T_BOOKING.c.conversation_id.in_(gone_ids))
                    .values(conversation_id=None)
                )
                report.messages += (
                    await conn.execute(delete(T_MSG).where(T_MSG.c.conversation_id.in_(gone_ids)))
                ).rowcount
                # AI call records (prompts and answers) share their conversation's retention.
                await conn.execute(
                    delete(T_AI_CALL).where(T_AI_CALL.c.conversation_id.in_(gone_ids))
                )
                report.conversations += (
                    await conn.execute(delete(T_CONV).where(T_CONV.c.id.in_(gone_ids)))
                ).rowcount
        saved.update(set(batch) - set(gone_ids))


async def _purge_orphan_contacts(
    engine: AsyncEngine, workspace_id: str, cutoff: datetime, batch_size: int, report: PurgeReport
) -> None:
    # A contact younger than the cutoff may be about to get its first conversation.
    has_conversation = exists().where(T_CONV.c.contact_id == T_CONTACT.c.id)
    orphan = and_(
        T_CONTACT.c.workspace_id == workspace_id,
        T_CONTACT.c.created_at < cutoff,
        ~has_conversation,
    )
    if report.dry_run:
        # Contacts whose every conversation expires in this same pass count as orphans too.
        live_conversation = exists().where(
            T_CONV.c.contact_id == T_CONTACT.c.id, _last_activity() >= cutoff
        )
        report.contacts += await _count(
            engine,
            T_CONTACT,
            and_(
                T_CONTACT.c.workspace_id == workspace_id,
                T_CONTACT.c.created_at < cutoff,
                ~live_conversation,
            ),
        )
        return
    while True:
        async with engine.begin() as conn:
            ids = [
                r.id
                for r in await conn.execute(select(T_CONTACT.c.id).where(orphan).limit(batch_size))
            ]
            if ids:
                await conn.execute(delete(T_IDENT).where(T_IDENT.c.contact_id.in_(ids)))
                await conn.execute(delete(T_CONSENT).where(T_CONSENT.c.contact_id.in_(ids)))
                await conn.execute(delete(T_BOOKING).where(T_BOOKING.c.contact_id.in_(ids)))
                report.contacts += (
                    await conn.execute(
                        delete(T_CONTACT).where(T_CONTACT.c.id.in_(ids), ~has_conversation)
                    )
                ).rowcount
        if len(ids) < batch_size:
            return


async def _purge_workspace(engine: AsyncEngine, workspace_id: str, batch_size: int) -> None:
    """Every row of one workspace, table by table in batches, then the workspace itself."""
    for table in _WORKSPACE_TABLES:
        await _delete_batched(engine, table, table.c.workspace_id == workspace_id, batch_size)
    async with engine.begin() as conn:
        await conn.execute(delete(T_WS).where(T_WS.c.id == workspace_id))


async def _purge_disconnected_calendars(
    engine: AsyncEngine, as_of: datetime, batch_size: int, report: PurgeReport
) -> None:
    """Booking rows of calendars disconnected ``CALENDAR_CACHE_DAYS`` ago, then mark each
    calendar purged (with an audit entry) so the next pass skips it."""
    cutoff = as_of - timedelta(days=CALENDAR_CACHE_DAYS)
    async with engine.connect() as conn:
        due = list(
            await conn.execute(
                select(T_CALENDAR.c.id, T_CALENDAR.c.workspace_id).where(
                    T_CALENDAR.c.disconnected_at.is_not(None),
                    T_CALENDAR.c.disconnected_at <= cutoff,
                    T_CALENDAR.c.cache_purged_at.is_(None),
                )
            )
        )
    for calendar in due:
        of_calendar = T_BOOKING.c.calendar_id == calendar.id
        if report.dry_run:
            report.calendar_bookings += await _count(engine, T_BOOKING, of_calendar)
            continue
        report.calendar_bookings += await _delete_batched(
            engine, T_BOOKING, of_calendar, batch_size
        )
        async with engine.begin() as conn:
            await conn.execute(
                update(T_CALENDAR)
                .where(T_CALENDAR.c.id == calendar.id)
                .values(cache_purged_at=as_of)
            )
            await conn.execute(
                T_AUDIT.insert().values(
                    id=new_id("au_"),
                    workspace_id=calendar.workspace_id,
                    at=utcnow(),
                    actor_kind="system",
                    action="calendar_data_purged",
                    target_kind="calendar",
                    target_id=calendar.id,
                )
            )


async def purge_expired(
    engine: AsyncEngine,
    *,
    as_of: datetime | None = None,
    batch_size: int = 500,
    dry_run: bool = False,
    audit_retention_days: int = AUDIT_RETENTION_DAYS,
    workspace_recovery_days: int = WORKSPACE_RECOVERY_DAYS,
    billing_retention_years: int = RETENTION_YEARS,
    media_dir: Path | None = None,
) -> PurgeReport:
    """Run one retention pass as if it were ``as_of`` (default: now). See the module doc.
    ``media_dir``: where media files are (None: their rows go, the files stay).

    A dry run counts what would go and deletes nothing. Safe to run concurrently with
    live traffic and with itself (a second pass finds less to do).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    as_of = as_utc(as_of or utcnow())  # SQLite compares times as text: keep one zone
    report = PurgeReport(as_of=as_of, dry_run=dry_run)
    async with engine.connect() as conn:
        workspaces = list(
            await conn.execute(
                select(T_WS.c.id, T_WS.c.retention_days).where(
                    T_WS.c.retention_days.is_not(None), T_WS.c.retention_days > 0
                )
            )
        )
    for ws in workspaces:
        cutoff = as_of - timedelta(days=ws.retention_days)
        await _purge_conversations(engine, ws.id, cutoff, batch_size, report)
        await _purge_orphan_contacts(engine, ws.id, cutoff, batch_size, report)

    audit_expired = T_AUDIT.c.at < as_of - timedelta(days=audit_retention_days)
    report.audit_entries_held = await _count(engine, T_AUDIT, and_(audit_expired, held(T_AUDIT)))
    logs: list[tuple[str, Table, ColumnElement[bool]]] = [
        ("audit_entries", T_AUDIT, and_(audit_expired, ~held(T_AUDIT))),
        (
            # Consent answers of widget visitors who never wrote (storage.consent): such a
            # visitor who comes back later is simply asked again.
            "pending_consents",
            T_PENDING,
            T_PENDING.c.at < as_of - PENDING_CONSENT_KEEP,
        ),
        (
            "sessions",
            T_SESSION,
            or_(
                T_SESSION.c.expires_at < as_of,
                T_SESSION.c.revoked_at < as_of - REVOKED_SESSION_KEEP,
            ),
        ),
    ]
    for name, table, where in logs:
        if dry_run:
            found = await _count(engine, table, where)
        else:
            found = await _delete_batched(engine, table, where, batch_size)
        setattr(report, name, getattr(report, name) + found)

    await _purge_disconnected_calendars(engine, as_of, batch_size, report)

    recovery_cutoff = as_of - timedelta(days=workspace_recovery_days)
    past_recovery = and_(T_WS.c.deleted_at.is_not(None), T_WS.c.deleted_at < recovery_cutoff)
    waiting = workspace_has_held_entries(T_WS.c.id, T_AUDIT)
    report.workspaces_held = await _count(engine, T_WS, and_(past_recovery, waiting))
    async with engine.connect() as conn:
        doomed = [
            r.id for r in await conn.execute(select(T_WS.c.id).where(past_recovery, ~waiting))
        ]
    for workspace_id in doomed:
        if not dry_run:
            await _purge_workspace(engine, workspace_id, batch_size)
        report.workspaces += 1

    billing = await purge_billing(engine, as_of, billing_retention_years, dry_run)
    report.invoices, report.payments = billing.invoices, billing.payments
    report.billing_accounts = billing.billing_accounts

    orphaned = media.orphaned(as_of)
    if dry_run:
        report.media_files = await _count(engine, media.T_MEDIA, orphaned)
    else:
        report.media_files = await _delete_batched(engine, media.T_MEDIA, orphaned, batch_size)
        if media_dir is not None:
            await media.sweep_files(engine, media.MediaFiles(media_dir), as_of)
    return report


async def run_purge(
    database_url: str,
    *,
    as_of: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = 500,
    audit_retention_days: int = AUDIT_RETENTION_DAYS,
    workspace_recovery_days: int = WORKSPACE_RECOVERY_DAYS,
    billing_retention_years: int = RETENTION_YEARS,
    media_dir: Path | None = None,
) -> PurgeReport:
    """The entry point for ``inviaro purge`` and the worker: one pass on its own engine."""
    engine = make_engine(database_url)
    try:
        return await purge_expired(
            engine,
            as_of=as_of,
            batch_size=batch_size,
            dry_run=dry_run,
            audit_retention_days=audit_retention_days,
            workspace_recovery_days=workspace_recovery_days,
            billing_retention_years=billing_retention_years,
            media_dir=media_dir,
        )
    finally:
        await engine.dispose()
