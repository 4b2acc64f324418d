"""Contacts and their data rights: read, correct, export and erase.

Thin on purpose: the rules live in :mod:`storage.privacy`; this module authenticates,
maps storage errors to the contract's statuses and writes the audit entry in the same
transaction as the change, so a change is never without its record. A contact of another
workspace answers 404 exactly like one that never existed. Export and erasure are for
owners and admins; agents too only when the workspace's ``agents_may_export`` is on.

After an erasure commits, every callable in
``services.extras["on_contact_erased"]`` is awaited as
``hook(workspace_id, contact_id, conversation_ids)`` (in this process), so the real-time
layer closes sockets on those conversations and drops their Redis keys.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.store import NotFound
from storage import privacy
from web import audit
from web.api.validate import query_limit
from web.auth.context import MANAGERS, Principal, require
from web.errors import ApiError, read_json

log = logging.getLogger("inviaro.contacts")

ErasedHook = Callable[[str, str, list[str]], Awaitable[None]]
ERASED_HOOKS = "on_contact_erased"


def on_contact_erased(services: Any) -> list[ErasedHook]:
    """The process's list of erasure hooks; append ``async def hook(ws, contact, convs)``."""
    hooks: list[ErasedHook] = services.extras.setdefault(ERASED_HOOKS, [])
    return hooks


def _services(request: Request) -> Any:
    return request.app.state.services


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


async def list_contacts(request: Request) -> Response:
    who = await require(request)
    limit = query_limit(request.query_params.get("limit"))
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > 64:
        raise ApiError(422, "invalid", "'cursor' is not a cursor this API gave out.")
    async with _services(request).db() as db:
        items, next_cursor = await privacy.list_contacts(
            db,
            who.workspace_id,
            limit=limit,
            cursor=cursor,
            q=(request.query_params.get("q") or "")[:200] or None,
        )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def get_contact(request: Request) -> Response:
    who = await require(request)
    try:
        async with _services(request).db() as db:
            contact = await privacy.get_contact(db, who.workspace_id, _contact_id(request))
    except NotFound:
        raise _not_found() from None
    return JSONResponse(contact)


async def update_contact(request: Request) -> Response:
    who = await require(request)
    contact_id = _contact_id(request)
    patch = await read_json(request)
    try:
        async with _services(request).db() as db, db.begin():
            contact = await privacy.update_contact(db, who.workspace_id, contact_id, patch)
            await audit.by_principal(db, request, who, "contact_updated", "contact", contact_id)
    except NotFound:
        raise _not_found() from None
    except privacy.InvalidContact as exc:
        raise ApiError(422, "invalid", exc.detail) from None
    return JSONResponse(contact)


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


async def erase_contact(request: Request) -> Response:
    who = await _require_data_rights(request)
    contact_id = _contact_id(request)
    services = _services(request)
    try:
        async with services.db() as db, db.begin():
            report = await privacy.erase_contact(db, who.workspace_id, contact_id)
            await audit.by_principal(db, request, who, "contact_erased", "contact", contact_id)
    except NotFound:
        raise _not_found() from None
    log.info(
        "contact erased: %d conversations, %d messages",
        len(report.conversation_ids),
        report.messages,
    )
    for hook in list(on_contact_erased(services)):
        try:
            await hook(report.workspace_id, report.contact_id, list(report.conversation_ids))
        except Exception:
            # The database is already clean; a failed hook must not turn that into a 500.
            log.exception("an on_contact_erased hook failed")
    return Response(status_code=204)


routes = [
    Route("/api/contacts", list_contacts, methods=["GET"]),
    Route("/api/contacts/{contact_id}", get_contact, methods=["GET"]),
    Route("/api/contacts/{contact_id}", update_contact, methods=["PATCH"]),
    Route("/api/contacts/{contact_id}", erase_contact, methods=["DELETE"]),
    Route("/api/contacts/{contact_id}/export", export_contact, methods=["GET"]),
]
