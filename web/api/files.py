"""Files the hub keeps (:mod:`storage.media`): upload, open and serve.

An upload is the file's raw bytes as the body (no multipart), its name in ``?name=``. It is
streamed to a temporary file that is dropped the moment it passes the size limit (413), and
its type is read from its bytes, never from the Content-Type sent (415 for anything not
allowed, HTML, SVG and scripts among them); either way nothing is kept. Operators upload
into a conversation of their workspace, a widget visitor into their own conversation only.
The answer names the file by id; a message then carries it (``attachments: [id]``).

Serving goes through short-lived signed links (:mod:`web.media_links` says why). The bytes
are answered under ``Content-Security-Policy: sandbox; default-src 'none'``, ``nosniff`` and
``Cache-Control: private, no-store``, inline only for images, audio and video.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.service import VisitorPrincipal
from storage import ledger, media
from storage import models as m
from web import limits, media_links
from web.api.widget import Visitor, read_token
from web.app_state import services_of
from web.auth.context import require
from web.contracts import media as contract
from web.errors import ApiError
from web.operation import declare

_NO_FILE = "There is no such file."


def _files(request: Request) -> media.MediaFiles:
    return media.MediaFiles(services_of(request).settings.media_path)


async def _store(
    request: Request,
    workspace_id: str,
    conversation_id: str,
    contact_id: str | None,
    *,
    by_contact: bool,
) -> Response:
    """Receive the body as a file of this conversation; 201 with its reference."""
    services = services_of(request)
    limit = services.settings.media_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    quota = services.settings.media_quota_bytes
    if await media.over_quota(services.engine, workspace_id, _declared(declared), quota):
        raise _over_quota(quota)
    name = media.clean_name(contract.UPLOAD_FILE.query(request).get("name"))
    files = _files(request)
    try:
        received = await files.receive(request.stream(), limit)
    except media.TooLarge:
        raise _too_large(limit) from None
    try:
        if received.size == 0:
            raise ApiError(400, "empty", "The body is empty: send the file's bytes.")
        if await media.over_quota(services.engine, workspace_id, received.size, quota):
            raise _over_quota(quota)
        with received.path.open("rb") as head:
            mime = media.sniff(head.read(4096), name, received.path)
        if mime is None:
            raise ApiError(
                415,
                "unsupported_media_type",
                "This kind of file cannot be uploaded: send an image, audio, video, PDF, "
                "office document or plain text.",
            )
        media_id = media.new_media_id()
        thumbnail = await files.keep(received, workspace_id, media_id, mime)
    finally:
        received.path.unlink(missing_ok=True)  # moved into place, or refused
    row = await media.insert(
        services.engine,
        media_id=media_id,
        workspace_id=workspace_id,
        conversation_id=conversation_id,
        contact_id=contact_id,
        mime=mime,
        name=name,
        received=received,
        thumbnail=thumbnail,
        shared=by_contact,
    )
    attachment = media_links.attachment_of(_Row(row))
    body = {
        "id": media_id,
        "url": attachment.url,
        "mime": mime,
        "name": name,
        "size": received.size,
        "thumbnail_url": attachment.thumbnail_url,
    }
    return JSONResponse(body, status_code=201)


class _Row:
    """A dict row read like a database row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _declared(length: str) -> int:
    return int(length) if length.isdigit() else 0


def _size(limit: int) -> str:
    if limit >= 1024**3:
        return f"{limit / 1024**3:g} GiB"
    return f"{limit // 1048576} MiB" if limit >= 1048576 else f"{limit // 1024} KiB"


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"The file is larger than {_size(limit)}; nothing was kept.")


def _over_quota(quota: int) -> ApiError:
    return ApiError(
        413,
        "quota_exceeded",
        f"This workspace's files would pass its storage quota of {_size(quota)}; nothing was "
        "kept. Ask the hub's administrator for more room.",
    )


async def _visitor(request: Request) -> Visitor:
    """The widget visitor of the X-Visitor-Token header (403 when it is not one)."""
    settings = services_of(request).settings
    found = read_token(settings.secret_key, request.headers.get("x-visitor-token", ""))
    if found is None or time.time() - found[1] > settings.visitor_token_days * 86400:
        raise ApiError(403, "forbidden", "The visitor token is not valid.")
    visitor = found[0]
    async with services_of(request).db() as db:
        channel = await db.get(m.Channel, visitor.channel_id)
        if channel is None or channel.disabled or channel.workspace_id != visitor.workspace_id:
            raise ApiError(403, "forbidden", "The visitor token is not valid.")
        conn = await db.connection()
        if await ledger.erased(conn, visitor.workspace_id, [visitor.contact_id]):
            raise ApiError(403, "forbidden", "This visitor's data was erased.")
    return visitor


@declare(contract.UPLOAD_FILE)
async def upload(request: Request) -> Response:
    """``POST /api/conversations/{conversation_id}/files?name=``: an operator's upload."""
    principal = await require(request)
    conversation_id = str(request.path_params["conversation_id"])[:64]
    async with services_of(request).db() as db:
        conv = await db.scalar(
            select(m.Conversation).where(
                m.Conversation.id == conversation_id,
                m.Conversation.workspace_id == principal.workspace_id,
            )
        )
    if conv is None:
        raise ApiError(404, "not_found", "There is no such conversation.")
    await limits.upload(request, principal.operator_id)
    return await _store(request, principal.workspace_id, conv.id, conv.contact_id, by_contact=False)


@declare(contract.UPLOAD_VISITOR_FILE)
async def visitor_upload(request: Request) -> Response:
    """``POST /api/widget/files?name=``: a visitor's upload into their own conversation."""
    visitor = await _visitor(request)
    check = services_of(request).hub.consent_check
    if check is not None:  # where consent is asked, no file before a yes (as for messages)
        principal = VisitorPrincipal(
            visitor.workspace_id, visitor.conversation_id, visitor.channel_id, visitor.contact_id
        )
        refusal = await check(principal)
        if refusal is not None:
            raise ApiError(403, "consent_required", refusal)
    await limits.upload(request, visitor.contact_id)
    return await _store(
        request, visitor.workspace_id, visitor.conversation_id, visitor.contact_id, by_contact=True
    )


@declare(contract.OPEN_FILE)
async def open_file(request: Request) -> Response:
    """``GET /api/files/{media_id}``: 303 to a signed link, for operators of the workspace."""
    principal = await require(request)
    thumb = bool(contract.OPEN_FILE.query(request).get("thumb"))
    row = (await media.find(services_of(request).engine, [request.path_params["media_id"]])).get(
        request.path_params["media_id"]
    )
    if row is None or row.workspace_id != principal.workspace_id or (thumb and not row.thumbnail):
        raise ApiError(404, "not_found", _NO_FILE)
    settings = services_of(request).settings
    signed = media_links.sign(settings.secret_key, row.id, thumb, settings.media_link_s)
    return RedirectResponse(signed, status_code=303)


@declare(contract.VISITOR_FILE_LINK)
async def visitor_link(request: Request) -> Response:
    """``GET /api/widget/files/{media_id}``: signed links to a file of the visitor's own
    conversation (the widget has no cookie to follow a redirect with)."""
    visitor = await _visitor(request)
    media_id = request.path_params["media_id"]
    row = (await media.find(services_of(request).engine, [media_id])).get(media_id)
    if (
        row is None
        or row.workspace_id != visitor.workspace_id
        or row.conversation_id != visitor.conversation_id
        or not row.shared  # an operator's file not (yet) sent to them: a note's, say
    ):
        raise ApiError(404, "not_found", _NO_FILE)
    return JSONResponse(media_links.links(services_of(request), row))


@declare(contract.SIGNED_FILE)
async def signed_file(request: Request) -> Response:
    """``GET /api/files/signed/{token}``: the bytes, for whoever holds an unexpired link."""
    settings = services_of(request).settings
    try:
        media_id, thumb = media_links.read_signed(settings.secret_key, request.path_params["token"])
    except media_links.LinkExpired:
        raise ApiError(
            403, "expired", "This link has expired; open the file again from the conversation."
        ) from None
    row = (await media.find(services_of(request).engine, [media_id])).get(media_id)
    files = _files(request)
    if row is None or (thumb and not row.thumbnail):
        raise ApiError(404, "not_found", _NO_FILE)
    if thumb:
        path, mime, name = files.thumbnail_path(row.thumbnail), "image/webp", "thumbnail.webp"
    else:
        path, mime, name = files.path(row.workspace_id, row.id), row.mime, row.name
    if not path.is_file():
        raise ApiError(404, "not_found", _NO_FILE)
    inline = mime.startswith(media.INLINE_PREFIXES)
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    return FileResponse(path, media_type=mime, headers=headers)


routes = [
    Route("/api/conversations/{conversation_id}/files", upload, methods=["POST"]),
    Route("/api/widget/files", visitor_upload, methods=["POST"]),
    Route("/api/widget/files/{media_id}", visitor_link, methods=["GET"]),
    Route("/api/files/signed/{token}", signed_file, methods=["GET"]),
    Route("/api/files/{media_id}", open_file, methods=["GET"]),
]
