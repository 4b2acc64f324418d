"""Calendars and bookings over HTTP (CONTRACT.md, "Calendars and bookings").

Thin: the OAuth flow and provider calls live in :mod:`web.calendar_connections`, the
booking rules in :mod:`web.booking`. Connecting, disconnecting and purging are for owners
and admins and leave an audit entry; booking is for every operator.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from msgspec import UNSET
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.model import rfc3339
from storage.models import Booking, BookingType, CalendarConnection, Conversation
from web import audit, booking
from web.api.account import services
from web.auth.context import MANAGERS, Principal, authenticate, require
from web.calendar_connections import (
    CallbackRefused,
    NotConfigured,
    connection_json,
    connections_of,
    disconnect,
    finish_connect,
    start_connect,
    take_state,
)
from web.contracts import calendars as calendars_contract
from web.errors import ApiError
from web.operation import declare

PROVIDERS = ("google", "microsoft")


async def _own_connection(db: Any, principal: Principal, calendar_id: str) -> CalendarConnection:
    found = await db.get(CalendarConnection, calendar_id) if len(calendar_id) <= 40 else None
    if found is None or found.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", "There is no such calendar.")
    return found  # type: ignore[no-any-return]


# Connections -------------------------------------------------------------------------------


@declare(calendars_contract.CONNECT_CALENDAR)
async def connect(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    body = await calendars_contract.CONNECT_CALENDAR.parse(
        request, calendars_contract.ConnectCalendarBody
    )
    provider = body.provider
    if principal.session_id is None:
        raise ApiError(
            403, "forbidden", "Connect a calendar from a signed-in browser, not with an API token."
        )
    svc = services(request)
    async with svc.db() as db:
        try:
            url = await start_connect(
                db,
                svc.settings,
                workspace_id=principal.workspace_id,
                operator_id=principal.operator_id,
                session_id=principal.session_id,
                provider=provider,
            )
        except NotConfigured as exc:
            raise ApiError(422, "not_configured", str(exc)) from None
        await db.commit()
    return JSONResponse({"authorize_url": url})


def _callback_page(sentence: str, status: int = 400) -> HTMLResponse:
    body = (
        "<!doctype html><meta charset=utf-8><title>Calendar not connected</title>"
        f"<main><h1>Calendar not connected</h1><p>{html.escape(sentence)}</p>"
        '<p><a href="/settings?tab=calendars">Back to settings</a></p></main>'
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@declare(calendars_contract.CALENDAR_O_AUTH_CALLBACK)
async def oauth_callback(request: Request) -> Response:
    provider = request.path_params["provider"]
    if provider not in PROVIDERS:
        return _callback_page("There is no such calendar provider.", 404)
    try:
        params = calendars_contract.CALENDAR_O_AUTH_CALLBACK.query(request)
    except ApiError:  # no state: not an answer to a request of ours
        return _callback_page("This is not an answer to a connection we started. Connect again.")
    svc = services(request)
    principal = await authenticate(request)
    state: str = params["state"]
    try:
        async with svc.db() as db:
            pending, verifier = await take_state(
                db,
                svc.settings,
                state=state,
                provider=provider,
                session_id=principal.session_id if principal else None,
            )
        if params.get("error"):
            reason = (params.get("error_description") or params["error"])[:200]
            raise CallbackRefused(f"{provider.title()} did not connect the calendar: {reason}")
        code = params.get("code", "")
        if not code or len(code) > 4096:
            raise CallbackRefused(f"{provider.title()} sent no authorization code. Connect again.")
        connection = await finish_connect(svc, pending, verifier, code)
    except CallbackRefused as exc:
        return _callback_page(str(exc))
    except NotConfigured as exc:
        return _callback_page(str(exc), 422)
    async with svc.db() as db:
        db.add(connection)
        await db.flush()
        await audit.record(
            db,
            workspace_id=connection.workspace_id,
            actor_kind="operator",
            actor_id=pending.operator_id,
            action="calendar_connected",
            target_kind="calendar",
            target_id=connection.id,
            ip=request.client.host if request.client else None,
        )
        await db.commit()
    return RedirectResponse("/settings?tab=calendars", status_code=303)


@declare(calendars_contract.LIST_CALENDARS)
async def list_calendars(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        items = [connection_json(c) for c in await connections_of(db, principal.workspace_id)]
    return JSONResponse({"items": items})


@declare(calendars_contract.UPDATE_CALENDAR)
async def patch_calendar(request: Request) -> Response:
    """Which calendars are read for availability, and which one receives the events."""
    principal = await require(request, roles=MANAGERS)
    patch = await calendars_contract.UPDATE_CALENDAR.parse(
        request, calendars_contract.UpdateCalendarBody
    )
    async with services(request).db() as db:
        connection = await _own_connection(db, principal, request.path_params["calendar_id"])
        if connection.status == "disconnected":
            raise ApiError(409, "disconnected", "This calendar is disconnected.")
        if patch.availability_calendars is not UNSET:
            connection.availability_calendars = [c.strip() for c in patch.availability_calendars]
        if patch.event_calendar is not UNSET:
            if connection.provider != "google":
                raise ApiError(
                    422, "invalid", "Outlook events always go to the account's default calendar."
                )
            connection.event_calendar = patch.event_calendar
        await db.commit()
        return JSONResponse(connection_json(connection))


@declare(calendars_contract.DISCONNECT_CALENDAR)
async def delete_calendar(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    svc = services(request)
    async with svc.db() as db:
        connection = await _own_connection(db, principal, request.path_params["calendar_id"])
        if connection.status != "disconnected":
            await disconnect(svc, connection)
            await audit.by_principal(
                db, request, principal, "calendar_disconnected", "calendar", connection.id
            )
            await db.commit()
    return Response(status_code=204)


@declare(calendars_contract.PURGE_CALENDAR_DATA)
async def purge_calendar(request: Request) -> Response:
    """ "Remove cached booking data now" for a disconnected calendar."""
    principal = await require(request, roles=MANAGERS)
    async with services(request).db() as db:
        connection = await _own_connection(db, principal, request.path_params["calendar_id"])
        if connection.status != "disconnected":
            raise ApiError(
                409, "connected", "Disconnect the calendar before removing its booking data."
            )
        removed = await booking.purge_cached(db, connection)
        await audit.by_principal(
            db, request, principal, "calendar_data_purged", "calendar", connection.id
        )
        await db.commit()
    return JSONResponse({"removed": removed})


# Booking types -----------------------------------------------------------------------------


async def _check_calendar(db: Any, principal: Principal, values: dict[str, Any]) -> None:
    if "calendar_id" in values:
        connection = await db.get(CalendarConnection, values["calendar_id"])
        if connection is None or connection.workspace_id != principal.workspace_id:
            raise ApiError(422, "invalid", "The field 'calendar_id' must be a connected calendar.")
        if connection.status == "disconnected":
            raise ApiError(422, "invalid", "The field 'calendar_id' names a disconnected calendar.")


@declare(calendars_contract.CREATE_BOOKING_TYPE)
async def create_booking_type(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    body = await calendars_contract.CREATE_BOOKING_TYPE.parse(
        request, calendars_contract.BookingTypeInput
    )
    values = body.columns()
    async with services(request).db() as db:
        await _check_calendar(db, principal, values)
        bt = BookingType(workspace_id=principal.workspace_id, **values)
        db.add(bt)
        await db.commit()
        return JSONResponse(booking.booking_type_json(bt), status_code=201)


@declare(calendars_contract.LIST_BOOKING_TYPES)
async def list_booking_types(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        rows = await db.execute(
            select(BookingType)
            .where(BookingType.workspace_id == principal.workspace_id)
            .order_by(BookingType.created_at, BookingType.id)
        )
        items = [booking.booking_type_json(bt) for bt in rows.scalars()]
    return JSONResponse({"items": items})


@declare(calendars_contract.GET_BOOKING_TYPE)
async def get_booking_type(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        bt = await booking.load_booking_type(db, principal.workspace_id, request.path_params["id"])
        return JSONResponse(booking.booking_type_json(bt))


@declare(calendars_contract.UPDATE_BOOKING_TYPE)
async def patch_booking_type(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    body = await calendars_contract.UPDATE_BOOKING_TYPE.parse(
        request, calendars_contract.UpdateBookingTypeBody
    )
    values = body.columns()
    async with services(request).db() as db:
        bt = await booking.load_booking_type(db, principal.workspace_id, request.path_params["id"])
        await _check_calendar(db, principal, values)
        for key, value in values.items():
            setattr(bt, key, value)
        await db.commit()
        return JSONResponse(booking.booking_type_json(bt))


@declare(calendars_contract.DELETE_BOOKING_TYPE)
async def delete_booking_type(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    async with services(request).db() as db:
        bt = await booking.load_booking_type(db, principal.workspace_id, request.path_params["id"])
        await db.delete(bt)
        await db.commit()
    return Response(status_code=204)


@declare(calendars_contract.LIST_SLOTS)
async def slots(request: Request) -> Response:
    principal = await require(request)
    svc = services(request)
    query = calendars_contract.LIST_SLOTS.query(request)
    start: datetime = query["from"]
    end: datetime = query["to"]
    if not start < end <= start + booking.MAX_WINDOW:
        raise ApiError(422, "invalid", "'to' must be after 'from', at most 31 days later.")
    async with svc.db() as db:
        bt = await booking.load_booking_type(db, principal.workspace_id, request.path_params["id"])
    free = await booking.free_slots(svc, bt, start, end)
    return JSONResponse(
        {"items": [{"start": rfc3339(s.start), "end": rfc3339(s.end)} for s in free]}
    )


# Bookings ----------------------------------------------------------------------------------


@declare(calendars_contract.CREATE_BOOKING)
async def create_booking(request: Request) -> Response:
    principal = await require(request)
    body = await calendars_contract.CREATE_BOOKING.parse(
        request, calendars_contract.CreateBookingBody
    )
    bt_id, start = body.booking_type_id, body.start
    svc = services(request)
    async with svc.db() as db:
        conversation = await db.get(Conversation, request.path_params["id"][:40])
    if conversation is None or conversation.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", "There is no such conversation.")
    made = await booking.book(
        svc,
        workspace_id=principal.workspace_id,
        booking_type_id=bt_id,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        start=start,
    )
    return JSONResponse(booking.booking_json(made), status_code=201)


@declare(calendars_contract.LIST_CONTACT_BOOKINGS)
async def list_contact_bookings(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        rows = await db.execute(
            select(Booking)
            .where(
                Booking.workspace_id == principal.workspace_id,
                Booking.contact_id == request.path_params["contact_id"][:40],
            )
            .order_by(Booking.starts_at.desc(), Booking.id)
            .limit(50)
        )
        items = [booking.booking_json(b) for b in rows.scalars()]
    return JSONResponse({"items": items})


@declare(calendars_contract.RESCHEDULE_BOOKING)
async def patch_booking(request: Request) -> Response:
    principal = await require(request)
    body = await calendars_contract.RESCHEDULE_BOOKING.parse(
        request, calendars_contract.RescheduleBookingBody
    )
    moved = await booking.reschedule(
        services(request), principal.workspace_id, request.path_params["id"], body.start
    )
    return JSONResponse(booking.booking_json(moved))


@declare(calendars_contract.CANCEL_BOOKING)
async def delete_booking(request: Request) -> Response:
    principal = await require(request)
    await booking.cancel(services(request), principal.workspace_id, request.path_params["id"])
    return Response(status_code=204)


routes = [
    Route("/api/calendars/connect", connect, methods=["POST"]),
    Route("/oauth/{provider}/callback", oauth_callback, methods=["GET"]),
    Route("/api/calendars", list_calendars, methods=["GET"]),
    Route("/api/calendars/{calendar_id}", patch_calendar, methods=["PATCH"]),
    Route("/api/calendars/{calendar_id}", delete_calendar, methods=["DELETE"]),
    Route("/api/calendars/{calendar_id}/purge", purge_calendar, methods=["POST"]),
    Route("/api/booking-types", list_booking_types, methods=["GET"]),
    Route("/api/booking-types", create_booking_type, methods=["POST"]),
    Route("/api/booking-types/{id}", get_booking_type, methods=["GET"]),
    Route("/api/booking-types/{id}", patch_booking_type, methods=["PATCH"]),
    Route("/api/booking-types/{id}", delete_booking_type, methods=["DELETE"]),
    Route("/api/booking-types/{id}/slots", slots, methods=["GET"]),
    Route("/api/conversations/{id}/bookings", create_booking, methods=["POST"]),
    Route("/api/contacts/{contact_id}/bookings", list_contact_bookings, methods=["GET"]),
    Route("/api/bookings/{id}", patch_booking, methods=["PATCH"]),
    Route("/api/bookings/{id}", delete_booking, methods=["DELETE"]),
]
