"""Contacts and their data rights: read, correct, export and erase.

Thin on purpose: the rules live in :mod:`storage.privacy`; this module authenticates,
maps storage errors to the contract's statuses and writes the audit entry in the same
transaction as the change, so a change is never without its record. A contact of another
workspace answers 404 exactly like one that never existed. Export and erasure are for
owners and admins; agents too only when the workspace's ``agents_may_export`` is on.

After an erasure commits, a :class:`hub.gone.Gone` naming its conversations is announced
(:mod:`web.gone`): every process closes the visitor sockets on them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import orjson
from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.gone import gone
from hub.store import NotFound
from storage import privacy, processing
from storage.media import MediaFiles
from web import audit, backups, booking
from web.auth.context import MANAGERS, Principal, require
from web.contracts import contacts as contacts_contract
from web.errors import ApiError
from web.gone import announce
from web.operation import declare

if TYPE_CHECKING:
    from web.services import Services


log = logging.getLogger("inviaro.contacts")
MAX_QUERY = 200  # a longer search is cut, not refused: any text is a search


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "There is no such contact.")


def _contact_id(request: Request) -> str:
    value = str(request.path_params["contact_id"])
    if len(value) > 64:
        raise _not_found()
    return value


async def _require_data_rights(request: Request) -> Principal:
    """Owners and admins; agents only where the workspace lets them export and erase."""
    who = await require(request)
    if who.role in MANAGERS:
        return who
    async with _services(request).db() as db:
        if await privacy.agents_may_export(db, who.workspace_id):
            return who
    raise ApiError(403, "forbidden", "Only owners and admins may export or erase contacts.")


@declare(contacts_contract.LIST_CONTACTS)
async def list_contacts(request: Request) -> Response:
    who = await require(request)
    query = contacts_contract.LIST_CONTACTS.query(request)
    async with _services(request).db() as db:
        items, next_cursor = await privacy.list_contacts(
            db,
            who.workspace_id,
            limit=query["limit"],
            cursor=query.get("cursor"),
            q=query.get("q", "")[:MAX_QUERY] or None,
        )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


@declare(contacts_contract.GET_CONTACT)
async def get_contact(request: Request) -> Response:
    who = await require(request)
    try:
        async with _services(request).db() as db:
            contact = await privacy.get_contact(db, who.workspace_id, _contact_id(request))
    except NotFound:
        raise _not_found() from None
    return JSONResponse(contact)


@declare(contacts_contract.PATCH_CONTACT)
async def update_contact(request: Request) -> Response:
    """Correct the profile, and/or set ``processing`` (restriction, objection).

    A change of processing is audited on its own, as ``contact_processing_<value>``, so
    the log says who restricted or lifted what, and when."""
    who = await require(request)
    contact_id = _contact_id(request)
    body = await contacts_contract.PATCH_CONTACT.parse(request, contacts_contract.ContactPatch)
    wanted = None if body.processing is UNSET else body.processing
    changes = body.changes()
    try:
        async with _services(request).db() as db, db.begin():
            if wanted is not None and await processing.set_processing(
                await db.connection(), who.workspace_id, contact_id, wanted, who.operator_id
            ):
                await audit.by_principal(
                    db, request, who, f"contact_processing_{wanted}", "contact", contact_id
                )
            contact = await privacy.update_contact(db, who.workspace_id, contact_id, changes)
            if wanted is None or changes:
                await audit.by_principal(db, request, who, "contact_updated", "contact", contact_id)
    except NotFound:
        raise _not_found() from None
    return JSONResponse(contact)


@declare(contacts_contract.EXPORT_CONTACT)
async def export_contact(request: Request) -> Response:
    who = await _require_data_rights(request)
    contact_id = _contact_id(request)
    try:
        async with _services(request).db() as db, db.begin():
            document = await privacy.export_contact(db, who.workspace_id, contact_id)
            await audit.by_principal(db, request, who, "contact_exported", "contact", contact_id)
    except NotFound:
        raise _not_found() from None
    return Response(
        orjson.dumps(document, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="contact-{contact_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@declare(contacts_contract.ERASE_CONTACT)
async def erase_contact(request: Request) -> Response:
    who = await _require_data_rights(request)
    contact_id = _contact_id(request)
    services = _services(request)
    try:
        async with services.db() as db, db.begin():
            events = await booking.live_events_of_contact(db, who.workspace_id, contact_id)
            report = await privacy.erase_contact(db, who.workspace_id, contact_id)
            await audit.by_principal(db, request, who, "contact_erased", "contact", contact_id)
    except NotFound:
        raise _not_found() from None
    log.info(
        "contact erased: %d conversations, %d messages",
        len(report.conversation_ids),
        report.messages,
    )
    # The rows are gone: their files go from disk now, their appointments at the
    # provider too (best effort).
    await asyncio.to_thread(
        MediaFiles(services.settings.media_path).remove, who.workspace_id, report.media_ids
    )
    await booking.cancel_events(services, events)
    await announce(services, gone("contact_erased", "conversation", *report.conversation_ids))
    await backups.sync_ledger(services)  # the erasure reaches the ledger beside the backups now
    return Response(status_code=204)


routes = [
    Route("/api/contacts", list_contacts, methods=["GET"]),
    Route("/api/contacts/{contact_id}", get_contact, methods=["GET"]),
    Route("/api/contacts/{contact_id}", update_contact, methods=["PATCH"]),
    Route("/api/contacts/{contact_id}", erase_contact, methods=["DELETE"]),
    Route("/api/contacts/{contact_id}/export", export_contact, methods=["GET"]),
]
