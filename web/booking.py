"""Booking: booking types, free slots, and booking, moving and cancelling appointments.

This is the one place the rules live; the HTTP routes (``web/api/bookings.py``) and the
Studio ``book`` step call the same functions:

* :func:`offer_slots` ``(services, workspace_id, booking_type_id, count=3, time_zone=None)``
  → the next free :class:`Offer` s, each with a label in the contact's zone when known
  (else the booking type's);
  an empty list means nothing is free (the step's ``on_none``).
* :func:`book` ``(services, workspace_id=, booking_type_id=, contact_id=, start=,
  conversation_id=None)`` → the :class:`~storage.models.Booking` with its provider event.
* :func:`reschedule` and :func:`cancel` move or delete it (the provider's event follows).

Every refusal is a :class:`BookingError` (an :class:`~web.errors.ApiError`: status, code and
one sentence): ``slot_taken`` (409) when someone else got there first, so a flow offers new
slots; ``slot_unavailable`` (422) for the past, outside hours or notice;
``calendar_unavailable`` (503) when the calendar cannot be read or written, never a guess.

Free slots are the booking type's weekly hours (wall-clock times in its zone, so a DST
change moves them with the clock) minus busy time from the provider's free/busy and from
our own live bookings, each widened by the buffers, from ``now + min_notice`` to
``now + days_ahead``. Two contacts racing for one slot: the calendar's row is locked while
the booking row is claimed, and a unique index on (calendar, start) of live bookings is
the last word, so exactly one wins and exactly one event is created.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters import google_calendar, microsoft_calendar
from adapters.calendars import BusinessHours, FreeBusy, Interval, merge, open_periods, zone
from hub.model import as_utc, rfc3339, utcnow
from storage.models import Booking, BookingType, CalendarConnection, Contact
from web.calendar_connections import CalendarUnavailable, call_provider
from web.errors import ApiError

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger("inviaro.booking")

MAX_WINDOW = timedelta(days=31)  # one slots query; Graph getSchedule takes under 42 days


class BookingError(ApiError):
    """A booking refused or impossible; ``code`` tells a flow which branch to take."""


def _taken() -> BookingError:
    return BookingError(409, "slot_taken", "That time was just taken; choose another slot.")


def _unavailable(sentence: str) -> BookingError:
    return BookingError(422, "slot_unavailable", sentence)


def _calendar_down(exc: CalendarUnavailable) -> BookingError:
    return BookingError(503, "calendar_unavailable", str(exc))


# Booking types -------------------------------------------------------------------------------


def booking_type_json(bt: BookingType) -> dict[str, Any]:
    return {
        "id": bt.id,
        "name": bt.name,
        "calendar_id": bt.calendar_id,
        "duration_minutes": bt.duration_minutes,
        "buffer_before_minutes": bt.buffer_before_minutes,
        "buffer_after_minutes": bt.buffer_after_minutes,
        "min_notice_minutes": bt.min_notice_minutes,
        "days_ahead": bt.days_ahead,
        "hours": bt.hours,
        "created_at": rfc3339(bt.created_at),
    }


def booking_json(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.id,
        "contact_id": booking.contact_id,
        "conversation_id": booking.conversation_id,
        "booking_type_id": booking.booking_type_id,
        "provider": booking.provider,
        "provider_event_id": booking.provider_event_id,
        "summary": booking.summary,
        "starts_at": rfc3339(booking.starts_at),
        "ends_at": rfc3339(booking.ends_at),
        "status": booking.status,
    }


async def load_booking_type(
    db: AsyncSession, workspace_id: str, booking_type_id: str
) -> BookingType:
    bt = await db.get(BookingType, booking_type_id) if len(booking_type_id) <= 40 else None
    if bt is None or bt.workspace_id != workspace_id:
        raise BookingError(404, "not_found", "There is no such booking type.")
    return bt


# Slots ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    """A free slot offered to a contact; ``label`` is its start in the contact's zone."""

    start: datetime
    end: datetime
    label: str


def _hours(bt: BookingType) -> BusinessHours:
    return BusinessHours.from_json({"timezone": bt.hours["timezone"], "days": bt.hours["weekly"]})


def candidate_slots(
    bt: BookingType, window_start: datetime, window_end: datetime
) -> list[Interval]:
    """Back-to-back slots from each opening time (local wall clock, DST-correct), inside
    the window; busy time not considered."""
    length = timedelta(minutes=bt.duration_minutes)
    slots = []
    for period in open_periods(
        window_start - timedelta(days=1), window_end + timedelta(days=1), _hours(bt)
    ):
        start = period.start
        while start + length <= period.end:
            if start >= window_start and start + length <= window_end:
                slots.append(Interval(start, start + length))
            start += length
    return slots


def _bookable_window(bt: BookingType, now: datetime) -> tuple[datetime, datetime]:
    return (
        now + timedelta(minutes=bt.min_notice_minutes),
        now + timedelta(days=bt.days_ahead),
    )


def _blocked(slot: Interval, busy: Sequence[Interval], bt: BookingType) -> bool:
    guarded = Interval(
        slot.start - timedelta(minutes=bt.buffer_before_minutes),
        slot.end + timedelta(minutes=bt.buffer_after_minutes),
    )
    return any(b.overlaps(guarded) for b in busy)


def _without(busy: Iterable[Interval], hole: Interval | None) -> list[Interval]:
    """Busy time minus ``hole`` (a booking's own event, when it is being moved)."""
    if hole is None:
        return list(busy)
    out = []
    for b in busy:
        if not b.overlaps(hole):
            out.append(b)
            continue
        if b.start < hole.start:
            out.append(Interval(b.start, hole.start))
        if hole.end < b.end:
            out.append(Interval(hole.end, b.end))
    return out


async def _provider_busy(
    services: Services, connection_id: str, start: datetime, end: datetime
) -> FreeBusy:
    async def read(connection: CalendarConnection, token: str) -> FreeBusy:
        calendars = list(connection.availability_calendars or [])
        if not calendars:
            raise CalendarUnavailable(
                "No calendar is chosen for availability: choose one in Settings → Calendars."
            )
        if connection.provider == "google":
            return await google_calendar.free_busy(services.http, token, calendars, start, end)
        return await microsoft_calendar.get_schedule(services.http, token, calendars, start, end)

    answer = await call_provider(services, connection_id, read)
    if answer.errors:
        names = ", ".join(sorted(answer.errors))
        raise CalendarUnavailable(
            f"The calendar could not be read ({names}), so no time is offered."
        )
    return answer


async def _our_busy(
    db: AsyncSession, connection_id: str, start: datetime, end: datetime, skip: str | None
) -> list[Interval]:
    query = select(Booking.id, Booking.starts_at, Booking.ends_at).where(
        Booking.calendar_id == connection_id,
        Booking.status == "confirmed",
        Booking.starts_at < end,
        Booking.ends_at > start,
    )
    rows = await db.execute(query)
    return [Interval(as_utc(r.starts_at), as_utc(r.ends_at)) for r in rows if r.id != skip]


async def _busy(
    services: Services,
    bt: BookingType,
    start: datetime,
    end: datetime,
    moving: Booking | None = None,
) -> list[Interval]:
    """Everything that blocks slots between ``start`` and ``end`` (buffers included)."""
    pad = timedelta(minutes=bt.buffer_before_minutes + bt.buffer_after_minutes + 1)
    lo, hi = start - pad, end + pad
    try:
        answer = await _provider_busy(services, bt.calendar_id, lo, hi)
    except CalendarUnavailable as exc:
        raise _calendar_down(exc) from None
    hole = Interval(as_utc(moving.starts_at), as_utc(moving.ends_at)) if moving else None
    async with services.db() as db:
        ours = await _our_busy(db, bt.calendar_id, lo, hi, moving.id if moving else None)
    return list(merge([*_without(answer.busy, hole), *ours]))


async def free_slots(
    services: Services,
    bt: BookingType,
    window_start: datetime,
    window_end: datetime,
    *,
    now: datetime | None = None,
) -> list[Interval]:
    """Free slots of ``bt`` in the window (UTC). Raises :class:`BookingError`
    ``calendar_unavailable`` when the calendar cannot be read."""
    now = now or utcnow()
    earliest, latest = _bookable_window(bt, now)
    lo, hi = max(as_utc(window_start), earliest), min(as_utc(window_end), latest)
    if lo >= hi:
        return []
    candidates = candidate_slots(bt, lo, hi)
    if not candidates:
        return []
    busy = await _busy(services, bt, candidates[0].start, candidates[-1].end)
    return [slot for slot in candidates if not _blocked(slot, busy, bt)]


def slot_label(start: datetime, time_zone: str | None) -> str:
    """``Tue 8 Dec, 10:00`` in ``time_zone`` (UTC, said so, when unknown or invalid)."""
    try:
        tz = zone(time_zone) if time_zone else None
    except ValueError:
        tz = None
    local = start.astimezone(tz or UTC)
    text = f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"
    return text if tz else f"{text} UTC"


async def offer_slots(
    services: Services,
    workspace_id: str,
    booking_type_id: str,
    *,
    count: int = 3,
    time_zone: str | None = None,
    now: datetime | None = None,
) -> list[Offer]:
    """The next ``count`` free slots, labelled in ``time_zone`` (the contact's, if known;
    unknown or invalid: the booking type's)."""
    async with services.db() as db:
        bt = await load_booking_type(db, workspace_id, booking_type_id)
    try:
        time_zone = zone(time_zone).key if time_zone else bt.hours["timezone"]
    except ValueError:
        time_zone = bt.hours["timezone"]
    now = now or utcnow()
    offers: list[Offer] = []
    start, end = now, now + timedelta(days=bt.days_ahead)
    while start < end and len(offers) < count:
        chunk_end = min(end, start + MAX_WINDOW)
        for slot in await free_slots(services, bt, start, chunk_end, now=now):
            offers.append(Offer(slot.start, slot.end, slot_label(slot.start, time_zone)))
        start = chunk_end
    return offers[:count]


# Booking -------------------------------------------------------------------------------------


def _check_bookable(bt: BookingType, start: datetime, now: datetime) -> Interval:
    """The slot starting at ``start``, or a sentence saying why it cannot be booked."""
    if start.tzinfo is None:
        raise _unavailable("The start needs a time zone, e.g. 2026-12-08T10:00:00Z.")
    start = as_utc(start)
    slot = Interval(start, start + timedelta(minutes=bt.duration_minutes))
    if start <= now:
        raise _unavailable("That time is in the past; choose a future slot.")
    earliest, latest = _bookable_window(bt, now)
    if start < earliest:
        raise _unavailable(
            f"That is too soon: book at least {bt.min_notice_minutes} minutes ahead."
        )
    if slot.end > latest:
        raise _unavailable(f"That is too far ahead: book at most {bt.days_ahead} days ahead.")
    if slot not in candidate_slots(bt, slot.start, slot.end):
        raise _unavailable(
            "That time is outside the booking hours; choose one of the offered slots."
        )
    return slot


async def _claim(
    services: Services, bt: BookingType, slot: Interval, booking: Booking | None, make: Any
) -> Booking:
    """Under the calendar's lock: refuse an overlap with our live bookings, then write.

    ``make(db)`` adds or changes the booking row. The lock is an UPDATE of the calendar's
    row (Postgres row lock; SQLite's write lock), taken first in the transaction.
    """
    guard = timedelta(minutes=bt.buffer_before_minutes + bt.buffer_after_minutes)
    try:
        async with services.db() as db:
            locked = await db.execute(
                update(CalendarConnection)
                .where(
                    CalendarConnection.id == bt.calendar_id,
                    CalendarConnection.status == "connected",
                )
                .values(status="connected")
            )
            if locked.rowcount != 1:  # type: ignore[attr-defined]
                raise BookingError(
                    503, "calendar_unavailable", "The calendar is not connected any more."
                )
            ours = await _our_busy(
                db,
                bt.calendar_id,
                slot.start - guard,
                slot.end + guard,
                booking.id if booking else None,
            )
            if any(_blocked(slot, [b], bt) for b in ours):
                raise _taken()
            row: Booking = await make(db)
            await db.commit()
            return row
    except IntegrityError:
        raise _taken() from None


async def book(
    services: Services,
    *,
    workspace_id: str,
    booking_type_id: str,
    contact_id: str,
    start: datetime,
    conversation_id: str | None = None,
    now: datetime | None = None,
) -> Booking:
    """Book ``start`` for the contact: re-check at the provider and in our table, claim the
    slot, create the provider's event. Raises :class:`BookingError`."""
    now = now or utcnow()
    async with services.db() as db:
        bt = await load_booking_type(db, workspace_id, booking_type_id)
        contact = await db.get(Contact, contact_id)
        connection = await db.get(CalendarConnection, bt.calendar_id)
    if contact is None or contact.workspace_id != workspace_id:
        raise BookingError(404, "not_found", "There is no such contact.")
    if connection is None:
        raise BookingError(503, "calendar_unavailable", "The booking type has no calendar.")
    slot = _check_bookable(bt, start, now)
    if any(_blocked(slot, [b], bt) for b in await _busy(services, bt, slot.start, slot.end)):
        raise _taken()
    summary = f"{bt.name} – {contact.name}" if contact.name else bt.name

    async def insert(db: AsyncSession) -> Booking:
        row = Booking(
            workspace_id=workspace_id,
            contact_id=contact_id,
            conversation_id=conversation_id,
            booking_type_id=bt.id,
            calendar_id=bt.calendar_id,
            provider=connection.provider,
            event_calendar=connection.event_calendar,
            summary=summary[:500],
            starts_at=slot.start,
            ends_at=slot.end,
            status="confirmed",
        )
        db.add(row)
        await db.flush()
        return row

    booking = await _claim(services, bt, slot, None, insert)

    async def create(connection: CalendarConnection, token: str) -> str:
        if connection.provider == "google":
            return await google_calendar.create_event(
                services.http,
                token,
                calendar_id=booking.event_calendar or "primary",
                booking_key=booking.id,
                summary=booking.summary,
                start=slot.start,
                end=slot.end,
            )
        return await microsoft_calendar.create_event(
            services.http,
            token,
            booking_key=booking.id,
            subject=booking.summary,
            start=slot.start,
            end=slot.end,
        )

    try:
        event_id = await call_provider(services, bt.calendar_id, create)
    except CalendarUnavailable as exc:
        async with services.db() as db:
            await db.execute(delete(Booking).where(Booking.id == booking.id))
            await db.commit()
        raise _calendar_down(exc) from None
    async with services.db() as db:
        await db.execute(
            update(Booking).where(Booking.id == booking.id).values(provider_event_id=event_id)
        )
        await db.commit()
    booking.provider_event_id = event_id
    return booking


async def load_booking(db: AsyncSession, workspace_id: str, booking_id: str) -> Booking:
    booking = await db.get(Booking, booking_id) if len(booking_id) <= 40 else None
    if booking is None or booking.workspace_id != workspace_id:
        raise BookingError(404, "not_found", "There is no such booking.")
    return booking


async def reschedule(
    services: Services,
    workspace_id: str,
    booking_id: str,
    start: datetime,
    *,
    now: datetime | None = None,
) -> Booking:
    """Move a confirmed booking to ``start``; the provider's event is patched."""
    now = now or utcnow()
    async with services.db() as db:
        booking = await load_booking(db, workspace_id, booking_id)
        bt = await db.get(BookingType, booking.booking_type_id) if booking.booking_type_id else None
    if booking.status != "confirmed":
        raise BookingError(409, "cancelled", "This booking was cancelled; book a new one.")
    if bt is None or booking.calendar_id is None:
        raise BookingError(409, "conflict", "This booking's type was deleted; book a new one.")
    slot = _check_bookable(bt, start, now)
    busy = await _busy(services, bt, slot.start, slot.end, moving=booking)
    if any(_blocked(slot, [b], bt) for b in busy):
        raise _taken()
    old = (booking.starts_at, booking.ends_at)

    async def move(db: AsyncSession) -> Booking:
        row = await db.get(Booking, booking.id)
        if row is None or row.status != "confirmed":
            raise BookingError(409, "cancelled", "This booking was cancelled; book a new one.")
        row.starts_at, row.ends_at = slot.start, slot.end
        await db.flush()
        return row

    moved = await _claim(services, bt, slot, booking, move)

    async def patch(connection: CalendarConnection, token: str) -> None:
        event_id = booking.provider_event_id or ""
        if connection.provider == "google":
            await google_calendar.move_event(
                services.http,
                token,
                booking.event_calendar or "primary",
                event_id,
                slot.start,
                slot.end,
            )
        else:
            await microsoft_calendar.move_event(
                services.http, token, event_id, slot.start, slot.end
            )

    try:
        await call_provider(services, booking.calendar_id, patch)
    except CalendarUnavailable as exc:
        async with services.db() as db:
            await db.execute(
                update(Booking)
                .where(Booking.id == booking.id)
                .values(starts_at=old[0], ends_at=old[1])
            )
            await db.commit()
        raise _calendar_down(exc) from None
    return moved


async def _delete_event(
    services: Services, calendar_id: str, event_calendar: str | None, event_id: str
) -> None:
    async def remove(connection: CalendarConnection, token: str) -> None:
        if connection.provider == "google":
            await google_calendar.delete_event(
                services.http, token, event_calendar or "primary", event_id
            )
        else:
            await microsoft_calendar.delete_event(services.http, token, event_id)

    await call_provider(services, calendar_id, remove)


async def next_booking(
    services: Services,
    workspace_id: str,
    contact_id: str,
    booking_type_id: str,
    *,
    now: datetime | None = None,
) -> Booking | None:
    """The contact's next confirmed booking of the type, the one a contact replying
    "reschedule" or "cancel" means; None when there is none ahead."""
    async with services.db() as db:
        return await db.scalar(
            select(Booking)
            .where(
                Booking.workspace_id == workspace_id,
                Booking.contact_id == contact_id,
                Booking.booking_type_id == booking_type_id,
                Booking.status == "confirmed",
                Booking.starts_at > (now or utcnow()),
            )
            .order_by(Booking.starts_at)
            .limit(1)
        )


async def cancel(services: Services, workspace_id: str, booking_id: str) -> Booking:
    """Cancel a booking; the provider's event is deleted while the calendar is connected
    (a disconnected calendar is never called again: the booking is cancelled here only)."""
    async with services.db() as db:
        booking = await load_booking(db, workspace_id, booking_id)
        connection = (
            await db.get(CalendarConnection, booking.calendar_id) if booking.calendar_id else None
        )
    if booking.status == "cancelled":
        return booking
    if connection is not None and connection.status == "connected" and booking.provider_event_id:
        try:
            await _delete_event(
                services, connection.id, booking.event_calendar, booking.provider_event_id
            )
        except CalendarUnavailable as exc:
            raise _calendar_down(exc) from None
    async with services.db() as db:
        await db.execute(update(Booking).where(Booking.id == booking.id).values(status="cancelled"))
        await db.commit()
    booking.status = "cancelled"
    return booking


# Erasure and purge ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveEvent:
    calendar_id: str
    event_calendar: str | None
    event_id: str


async def live_events_of_contact(
    db: AsyncSession, workspace_id: str, contact_id: str
) -> list[LiveEvent]:
    """The provider events of a contact's confirmed bookings (read before an erasure)."""
    rows = await db.execute(
        select(Booking.calendar_id, Booking.event_calendar, Booking.provider_event_id).where(
            Booking.workspace_id == workspace_id,
            Booking.contact_id == contact_id,
            Booking.status == "confirmed",
            Booking.provider_event_id.is_not(None),
            Booking.calendar_id.is_not(None),
        )
    )
    return [LiveEvent(r.calendar_id, r.event_calendar, r.provider_event_id) for r in rows]


async def cancel_events(services: Services, events: Sequence[LiveEvent]) -> int:
    """Best effort after an erasure: delete each event at its provider; how many went."""
    done = 0
    for event in events:
        try:
            await _delete_event(services, event.calendar_id, event.event_calendar, event.event_id)
            done += 1
        except CalendarUnavailable as exc:
            log.warning("could not cancel an erased contact's event: %s", exc)
    return done


async def purge_cached(db: AsyncSession, connection: CalendarConnection) -> int:
    """Remove the cached event metadata (the booking rows) of a disconnected calendar."""
    removed = cast(
        CursorResult[Any],
        await db.execute(delete(Booking).where(Booking.calendar_id == connection.id)),
    ).rowcount
    connection.cache_purged_at = utcnow()
    return int(removed or 0)
