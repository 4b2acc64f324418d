"""The documents ``ai_reply`` answers from (docs/ai.md "Documents"): everyone in the
workspace reads them, owners and admins add, edit and delete them (audited).

``GET/POST /api/ai/documents``, ``GET/PATCH/DELETE /api/ai/documents/{document_id}``;
bodies ``{title, text}``. The list leaves the texts out (they may be long).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import utcnow
from hub.store import NotFound
from storage import ai_documents
from storage import models as m
from web import audit
from web.api.account import services
from web.auth.context import MANAGERS, require
from web.contracts import ai_documents as ai_documents_contract
from web.errors import ApiError
from web.operation import declare


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "There is no such document in your workspace.")


def _document_id(request: Request) -> str:
    value = str(request.path_params["document_id"])
    if len(value) > 64:
        raise _not_found()
    return value


@declare(ai_documents_contract.LIST_AI_DOCUMENTS)
async def list_documents(request: Request) -> Response:
    who = await require(request)
    async with services(request).db() as db:
        docs = await ai_documents.list_documents(db, who.workspace_id)
    return JSONResponse({"items": [ai_documents.to_wire(d, with_text=False) for d in docs]})


@declare(ai_documents_contract.CREATE_AI_DOCUMENT)
async def create_document(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    body = await ai_documents_contract.CREATE_AI_DOCUMENT.parse(
        request, ai_documents_contract.DocumentBody
    )
    async with services(request).db() as db, db.begin():
        if await ai_documents.count(db, who.workspace_id) >= ai_documents.MAX_DOCUMENTS:
            raise ApiError(
                409,
                "too_many_documents",
                f"A workspace keeps at most {ai_documents.MAX_DOCUMENTS} documents; "
                "delete one or merge some first.",
            )
        doc = m.AiDocument(workspace_id=who.workspace_id, title=body.title, text=body.text)
        db.add(doc)
        await db.flush()
        await audit.by_principal(db, request, who, "ai_document_created", "ai_document", doc.id)
        wire = ai_documents.to_wire(doc)
    return JSONResponse(wire, status_code=201)


@declare(ai_documents_contract.GET_AI_DOCUMENT)
async def get_document(request: Request) -> Response:
    who = await require(request)
    try:
        async with services(request).db() as db:
            doc = await ai_documents.get(db, who.workspace_id, _document_id(request))
    except NotFound:
        raise _not_found() from None
    return JSONResponse(ai_documents.to_wire(doc))


@declare(ai_documents_contract.UPDATE_AI_DOCUMENT)
async def update_document(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    body = await ai_documents_contract.UPDATE_AI_DOCUMENT.parse(
        request, ai_documents_contract.DocumentPatch
    )
    try:
        async with services(request).db() as db, db.begin():
            doc = await ai_documents.get(db, who.workspace_id, _document_id(request))
            if body.title is not None:
                doc.title = body.title
            if body.text is not None:
                doc.text = body.text
            doc.updated_at = utcnow()
            await audit.by_principal(db, request, who, "ai_document_updated", "ai_document", doc.id)
            wire = ai_documents.to_wire(doc)
    except NotFound:
        raise _not_found() from None
    return JSONResponse(wire)


@declare(ai_documents_contract.DELETE_AI_DOCUMENT)
async def delete_document(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    try:
        async with services(request).db() as db, db.begin():
            doc = await ai_documents.get(db, who.workspace_id, _document_id(request))
            await db.delete(doc)
            await audit.by_principal(db, request, who, "ai_document_deleted", "ai_document", doc.id)
    except NotFound:
        raise _not_found() from None
    return Response(status_code=204)


routes = [
    Route("/api/ai/documents", list_documents, methods=["GET"]),
    Route("/api/ai/documents", create_document, methods=["POST"]),
    Route("/api/ai/documents/{document_id}", get_document, methods=["GET"]),
    Route("/api/ai/documents/{document_id}", update_document, methods=["PATCH"]),
    Route("/api/ai/documents/{document_id}", delete_document, methods=["DELETE"]),
]
