"""The calendars routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from adapters.calendars import BusinessHours
from web.operation import (
    BROWSER_READ,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    Answer,
    Fault,
    Operation,
    Param,
)
from web.schema import Invalid


class ConnectCalendarReply(msgspec.Struct):
    authorize_url: Annotated[str, Meta(extra_json_schema={"format": "uri"})]


class ConnectCalendarBody(msgspec.Struct):
    """Which provider to connect."""

    provider: Literal["google", "microsoft"]


class Calendar(msgspec.Struct):
    id: str
    provider: Literal["google", "microsoft"]
    account: str
    status: Literal["connected", "broken", "disconnected"]
    availability_calendars: list[str]
    event_calendar: str | None
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    disconnected_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType = (
        UNSET
    )
    cache_purged: bool | UnsetType = UNSET
    note: (
        Annotated[
            str,
            Meta(
                description="Microsoft only, once disconnected: where to remove the app's consent."
            ),
        ]
        | UnsetType
    ) = UNSET


class ListCalendarsReply(msgspec.Struct):
    items: list[Calendar]


CalendarId = Annotated[str, Meta(min_length=1, max_length=1024, pattern=r"\S")]


class UpdateCalendarBody(msgspec.Struct):
    """Which calendars are read for availability, and (Google) which receives the events."""

    availability_calendars: (
        Annotated[list[CalendarId], Meta(min_length=1, max_length=20)] | UnsetType
    ) = UNSET
    event_calendar: CalendarId | UnsetType = UNSET


BookingTypeName = Annotated[str, Meta(min_length=1, max_length=200)]
Duration = Annotated[int, Meta(ge=5, le=24 * 60)]
Buffer = Annotated[int, Meta(ge=0, le=12 * 60)]
Notice = Annotated[int, Meta(ge=0, le=90 * 24 * 60)]
DaysAhead = Annotated[int, Meta(ge=1, le=365)]
CalendarRef = Annotated[str, Meta(max_length=40, description="A connected calendar's id.")]


class PurgeCalendarDataReply(msgspec.Struct):
    removed: int


class BookingHours(msgspec.Struct, forbid_unknown_fields=True):
    """When bookings may start, in the booking type's own time zone."""

    timezone: Annotated[
        str, Meta(max_length=64, description="An IANA time zone such as Europe/Berlin.")
    ]
    weekly: Annotated[
        dict[
            Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            list[Annotated[list[str], Meta(min_length=2, max_length=2)]],
        ],
        Meta(description="Per day (mon..sun), [open, close] periods as local HH:MM."),
    ]

    def __post_init__(self) -> None:
        try:
            BusinessHours.from_json({"timezone": self.timezone, "days": self.weekly})
        except ValueError as exc:
            raise Invalid("hours", f"Not valid hours: {exc}.") from None


class BookingType(msgspec.Struct):
    id: str
    name: BookingTypeName
    duration_minutes: Duration
    calendar_id: str
    buffer_before_minutes: Buffer
    buffer_after_minutes: Buffer
    min_notice_minutes: Notice
    days_ahead: DaysAhead
    hours: BookingHours
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class ListBookingTypesReply(msgspec.Struct):
    items: list[BookingType]


ReadOnly = Annotated[Any, Meta(description="Read-only: ignored, so a read can be sent back.")]


class BookingTypeInput(msgspec.Struct, forbid_unknown_fields=True):
    """A new booking type; the calendar must be a connected one of the workspace."""

    name: BookingTypeName
    duration_minutes: Duration
    calendar_id: CalendarRef
    hours: BookingHours
    buffer_before_minutes: Buffer = 0
    buffer_after_minutes: Buffer = 0
    min_notice_minutes: Notice = 0
    days_ahead: DaysAhead = 30
    id: ReadOnly | UnsetType = UNSET
    created_at: ReadOnly | UnsetType = UNSET

    def columns(self) -> dict[str, Any]:
        """The fields sent (hours as stored), for the ``booking_types`` row."""
        return _columns(self)


class UpdateBookingTypeBody(msgspec.Struct, forbid_unknown_fields=True):
    """What to change; a field left out stays as it is."""

    name: BookingTypeName | UnsetType = UNSET
    duration_minutes: Duration | UnsetType = UNSET
    calendar_id: CalendarRef | UnsetType = UNSET
    buffer_before_minutes: Buffer | UnsetType = UNSET
    buffer_after_minutes: Buffer | UnsetType = UNSET
    min_notice_minutes: Notice | UnsetType = UNSET
    days_ahead: DaysAhead | UnsetType = UNSET
    hours: BookingHours | UnsetType = UNSET
    id: ReadOnly | UnsetType = UNSET
    created_at: ReadOnly | UnsetType = UNSET

    def columns(self) -> dict[str, Any]:
        """The fields sent (hours as stored), for the ``booking_types`` row."""
        return _columns(self)


def _columns(body: BookingTypeInput | UpdateBookingTypeBody) -> dict[str, Any]:
    values = {
        f: getattr(body, f)
        for f in body.__struct_fields__
        if f not in ("id", "created_at") and getattr(body, f) is not UNSET
    }
    if "hours" in values:
        values["hours"] = msgspec.to_builtins(values["hours"])
    return values


class Slot(msgspec.Struct):
    start: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    end: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class ListSlotsReply(msgspec.Struct):
    items: list[Slot]


class CalendarBooking(msgspec.Struct):
    id: str
    contact_id: str
    conversation_id: str | None
    booking_type_id: str | None
    provider: Literal["google", "microsoft"]
    provider_event_id: str | None
    summary: str
    starts_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    ends_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    status: Literal["confirmed", "cancelled"]


# An RFC 3339 time with its offset (a naive time is refused: whose 10:00?).
Moment = Annotated[datetime, Meta(tz=True, description="RFC 3339 with an offset or Z.")]


class CreateBookingBody(msgspec.Struct):
    """A slot of a booking type, for the conversation's contact."""

    booking_type_id: Annotated[str, Meta(max_length=64)]
    start: Moment


class ListContactBookingsReply(msgspec.Struct):
    items: list[CalendarBooking]


class RescheduleBookingBody(msgspec.Struct):
    """The booking's new start."""

    start: Moment


# POST /api/calendars/connect
CONNECT_CALENDAR = Operation(
    method="post",
    operation_id="connectCalendar",
    summary="Start connecting a Google or Microsoft calendar (owners and admins, signed-in browser)",
    tags=("calendars",),
    body=ConnectCalendarBody,
    answers={
        200: Answer(
            "Send the browser to authorize_url; the provider returns it to /oauth/{provider}/callback.",
            body=ConnectCalendarReply,
        )
    },
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(
            422,
            "not_configured",
            "The server has no OAuth client for this provider; the detail names the settings to set.",
        ),
    ),
)


# GET /oauth/{provider}/callback
CALENDAR_O_AUTH_CALLBACK = Operation(
    method="get",
    operation_id="calendarOAuthCallback",
    summary="Where the provider sends the operator's browser back (state bound to the session, single use)",
    tags=("calendars",),
    security=BROWSER_READ,
    params=(
        Param("provider", kind=Literal["google", "microsoft"], where="path", required=True),
        Param("code"),
        Param("state", required=True),
        Param("error"),
        Param("error_description"),
    ),
    answers={
        303: Answer("Connected; on to /settings?tab=calendars."),
        400: Answer(
            "Wrong, reused or expired state, another session, or an error from the provider: an HTML page saying so; nothing is stored.",
            body=str,
            media_type="text/html",
        ),
    },
)


# GET /api/calendars
LIST_CALENDARS = Operation(
    method="get",
    operation_id="listCalendars",
    summary="The workspace's calendar connections",
    tags=("calendars",),
    answers={200: Answer("Every connection, disconnected ones included.", body=ListCalendarsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# PATCH /api/calendars/{calendar_id}
UPDATE_CALENDAR = Operation(
    method="patch",
    operation_id="updateCalendar",
    summary="Choose the calendars read for availability and the one that receives events (owners and admins)",
    tags=("calendars",),
    body=UpdateCalendarBody,
    params=(Param("calendar_id", where="path", required=True),),
    answers={200: Answer("The connection.", body=Calendar)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(422, "invalid", "A field is missing or wrong; the detail names it."),
        Fault(409, "disconnected", "The calendar is disconnected."),
    ),
)


# DELETE /api/calendars/{calendar_id}
DISCONNECT_CALENDAR = Operation(
    method="delete",
    operation_id="disconnectCalendar",
    summary="Disconnect: revoke the token at the provider (Google), forget the tokens, never call again",
    tags=("calendars",),
    params=(Param("calendar_id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# POST /api/calendars/{calendar_id}/purge
PURGE_CALENDAR_DATA = Operation(
    method="post",
    operation_id="purgeCalendarData",
    summary="Remove the cached booking data of a disconnected calendar now (owners and admins)",
    tags=("calendars",),
    params=(Param("calendar_id", where="path", required=True),),
    answers={200: Answer("How many bookings were removed.", body=PurgeCalendarDataReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(409, "connected", "Disconnect the calendar first."),
    ),
)


# GET /api/booking-types
LIST_BOOKING_TYPES = Operation(
    method="get",
    operation_id="listBookingTypes",
    summary="The workspace's booking types",
    tags=("calendars",),
    answers={200: Answer("Every booking type.", body=ListBookingTypesReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# POST /api/booking-types
CREATE_BOOKING_TYPE = Operation(
    method="post",
    operation_id="createBookingType",
    summary="Define a booking type (owners and admins)",
    tags=("calendars",),
    body=BookingTypeInput,
    answers={201: Answer("The booking type.", body=BookingType)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(422, "invalid", "A field is missing or wrong; the detail names it."),
    ),
)


# GET /api/booking-types/{id}
GET_BOOKING_TYPE = Operation(
    method="get",
    operation_id="getBookingType",
    summary="One booking type",
    tags=("calendars",),
    params=(Param("id", where="path", required=True),),
    answers={200: Answer("The booking type.", body=BookingType)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# PATCH /api/booking-types/{id}
UPDATE_BOOKING_TYPE = Operation(
    method="patch",
    operation_id="updateBookingType",
    summary="Change a booking type (owners and admins)",
    tags=("calendars",),
    body=UpdateBookingTypeBody,
    params=(Param("id", where="path", required=True),),
    answers={200: Answer("The booking type.", body=BookingType)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(422, "invalid", "A field is missing or wrong; the detail names it."),
    ),
)


# DELETE /api/booking-types/{id}
DELETE_BOOKING_TYPE = Operation(
    method="delete",
    operation_id="deleteBookingType",
    summary="Delete a booking type (owners and admins)",
    tags=("calendars",),
    params=(Param("id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# GET /api/booking-types/{id}/slots
LIST_SLOTS = Operation(
    method="get",
    operation_id="listSlots",
    summary="Free slots in UTC: weekly hours minus the provider's busy time, with buffers, notice and days ahead",
    tags=("calendars",),
    params=(
        Param("id", where="path", required=True),
        Param("from", kind=Moment, required=True),
        Param("to", kind=Moment, required=True, description="At most 31 days after `from`."),
    ),
    answers={200: Answer("Free slots, earliest first.", body=ListSlotsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(
            422,
            "invalid",
            "'from' and 'to' must be RFC 3339 times with an offset, at most 31 days apart.",
        ),
        Fault(
            503,
            "calendar_unavailable",
            "The calendar cannot be read or written now (disconnected, broken, or the provider failed); no slot is guessed.",
        ),
    ),
)


# POST /api/conversations/{id}/bookings
CREATE_BOOKING = Operation(
    method="post",
    operation_id="createBooking",
    summary="Book a slot for the conversation's contact: re-checked at the provider and in the hub, then the event is created",
    tags=("calendars",),
    body=CreateBookingBody,
    params=(Param("id", where="path", required=True),),
    answers={201: Answer("The booking.", body=CalendarBooking)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(409, "slot_taken", "Someone else booked that time first; offer new slots."),
        Fault(
            422,
            "slot_unavailable",
            "The time is in the past, too soon, too far ahead or outside the booking hours.",
        ),
        Fault(
            503,
            "calendar_unavailable",
            "The calendar cannot be read or written now (disconnected, broken, or the provider failed); no slot is guessed.",
        ),
    ),
)


# GET /api/contacts/{contact_id}/bookings
LIST_CONTACT_BOOKINGS = Operation(
    method="get",
    operation_id="listContactBookings",
    summary="A contact's bookings, newest first (the contact panel)",
    tags=("calendars",),
    params=(Param("contact_id", where="path", required=True),),
    answers={200: Answer("Up to 50 bookings.", body=ListContactBookingsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# PATCH /api/bookings/{id}
RESCHEDULE_BOOKING = Operation(
    method="patch",
    operation_id="rescheduleBooking",
    summary="Reschedule: the provider's event is moved",
    tags=("calendars",),
    body=RescheduleBookingBody,
    params=(Param("id", where="path", required=True),),
    answers={200: Answer("The booking.", body=CalendarBooking)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(409, "slot_taken", "Someone else booked that time first; offer new slots."),
        Fault(
            422,
            "slot_unavailable",
            "The time is in the past, too soon, too far ahead or outside the booking hours.",
        ),
        Fault(
            503,
            "calendar_unavailable",
            "The calendar cannot be read or written now (disconnected, broken, or the provider failed); no slot is guessed.",
        ),
    ),
)


# DELETE /api/bookings/{id}
CANCEL_BOOKING = Operation(
    method="delete",
    operation_id="cancelBooking",
    summary="Cancel: the provider's event is deleted (a disconnected calendar is not called)",
    tags=("calendars",),
    params=(Param("id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(
            503,
            "calendar_unavailable",
            "The calendar cannot be read or written now (disconnected, broken, or the provider failed); no slot is guessed.",
        ),
    ),
)
