"""Operators' pictures: ``PUT /api/me/avatar`` (the image's bytes as the body),
``DELETE /api/me/avatar``, and ``GET /api/operators/{id}/avatar`` for the operators of the
same workspace.

An avatar is a PNG, JPEG or WebP of at most ``MAX_BYTES``, recognised by its first bytes
(the declared Content-Type is not trusted): anything else is 415 and a larger body 413,
each with a sentence, and nothing is stored. It is kept in the database beside the
operator (:class:`storage.models.OperatorAvatar`), apart from the media of conversations,
and served with ``nosniff`` and a sandboxing CSP, so even a file that fooled the sniffing
could not run as a page. ``avatar_url`` on the operator carries a version, so browsers may
cache it; a new picture has a new URL.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import utcnow
from storage.models import Operator, OperatorAvatar
from web import audit
from web.api.account import operator_json, services
from web.auth.context import require
from web.contracts import profile as profile_contract
from web.errors import ApiError, read_body
from web.operation import declare

MAX_BYTES = 256 * 1024
TOO_LARGE = "A picture may be at most 256 KB; choose a smaller one."
NOT_AN_IMAGE = "A picture must be a PNG, JPEG or WebP image."
SERVED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": "inline",
    "Cache-Control": "private, max-age=86400",
}


def sniff(data: bytes) -> str | None:
    """The image type ``data`` starts like, or None when it is none we keep."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@declare(profile_contract.PUT_MY_AVATAR)
async def put_avatar(request: Request) -> Response:
    principal = await require(request)
    try:
        data = await read_body(request, MAX_BYTES)
    except ApiError as exc:
        raise ApiError(413, "too_large", TOO_LARGE) from exc
    mime = sniff(data)
    if mime is None:
        raise ApiError(415, "unsupported_media_type", NOT_AN_IMAGE)
    now = utcnow()
    async with services(request).db() as db:
        await db.execute(
            delete(OperatorAvatar).where(OperatorAvatar.operator_id == principal.operator_id)
        )
        db.add(
            OperatorAvatar(
                operator_id=principal.operator_id,
                workspace_id=principal.workspace_id,
                mime=mime,
                data=data,
                updated_at=now,
            )
        )
        await db.execute(
            update(Operator).where(Operator.id == principal.operator_id).values(avatar_at=now)
        )
        await audit.by_principal(
            db, request, principal, "avatar_changed", "operator", principal.operator_id
        )
        await db.commit()
        operator = await db.get(Operator, principal.operator_id)
        assert operator is not None
        return JSONResponse(operator_json(operator))


@declare(profile_contract.DELETE_MY_AVATAR)
async def delete_avatar(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        await db.execute(
            delete(OperatorAvatar).where(OperatorAvatar.operator_id == principal.operator_id)
        )
        await db.execute(
            update(Operator).where(Operator.id == principal.operator_id).values(avatar_at=None)
        )
        await audit.by_principal(
            db, request, principal, "avatar_removed", "operator", principal.operator_id
        )
        await db.commit()
    return Response(status_code=204)


@declare(profile_contract.GET_AVATAR)
async def get_avatar(request: Request) -> Response:
    principal = await require(request)
    operator_id = str(request.path_params["operator_id"])[:40]
    async with services(request).db() as db:
        row = await db.get(OperatorAvatar, operator_id)
        if row is None or row.workspace_id != principal.workspace_id:
            raise ApiError(404, "not_found", "This operator has no picture.")
        return Response(row.data, media_type=row.mime, headers=SERVED_HEADERS)


routes = [
    Route("/api/me/avatar", put_avatar, methods=["PUT"]),
    Route("/api/me/avatar", delete_avatar, methods=["DELETE"]),
    Route("/api/operators/{operator_id}/avatar", get_avatar, methods=["GET"]),
]
