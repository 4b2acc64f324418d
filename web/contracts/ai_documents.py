"""The documents AI replies answer from: their bodies and their declarations."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from storage import ai_documents
from web.operation import FORBIDDEN, NOT_FOUND, UNAUTHORIZED, WRITE, Answer, Fault, Operation, Param

Title = Annotated[str, Meta(min_length=1, max_length=200)]


Text = Annotated[str, Meta(min_length=1, max_length=ai_documents.MAX_CHARS)]


class DocumentBody(msgspec.Struct, forbid_unknown_fields=True):
    """A new document: its title and its plain text (paragraphs split by blank lines)."""

    title: Title
    text: Text


class DocumentPatch(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to change; those left out stay."""

    title: Title | None = None
    text: Text | None = None


class DocumentOut(msgspec.Struct):
    """A document as the API answers it (``text`` left out of the list)."""

    id: str
    title: str
    chars: int
    created_at: str
    updated_at: str
    text: str | None = None


class ListAiDocumentsReply(msgspec.Struct):
    items: list[DocumentOut]


# GET /api/ai/documents
LIST_AI_DOCUMENTS = Operation(
    method="get",
    operation_id="listAiDocuments",
    summary="The workspace's AI documents (texts left out)",
    tags=("ai",),
    answers={200: Answer("The documents, by title.", body=ListAiDocumentsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# POST /api/ai/documents
CREATE_AI_DOCUMENT = Operation(
    method="post",
    operation_id="createAiDocument",
    summary="Add a document ai_reply answers from (owners and admins)",
    tags=("ai",),
    security=WRITE,
    body=DocumentBody,
    answers={201: Answer("The document.", body=DocumentOut)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(422, "invalid", "Invalid fields (every field's problem in `problems`)."),
        Fault(409, "too_many_documents", "The workspace keeps its most documents already."),
    ),
)


# GET /api/ai/documents/{document_id}
GET_AI_DOCUMENT = Operation(
    method="get",
    operation_id="getAiDocument",
    summary="One AI document, with its text",
    tags=("ai",),
    params=(Param("document_id", where="path", required=True),),
    answers={200: Answer("The document.", body=DocumentOut)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# PATCH /api/ai/documents/{document_id}
UPDATE_AI_DOCUMENT = Operation(
    method="patch",
    operation_id="updateAiDocument",
    summary="Change an AI document's title or text (owners and admins)",
    tags=("ai",),
    security=WRITE,
    body=DocumentPatch,
    params=(Param("document_id", where="path", required=True),),
    answers={200: Answer("The document.", body=DocumentOut)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(422, "invalid", "Invalid fields (every field's problem in `problems`)."),
    ),
)


# DELETE /api/ai/documents/{document_id}
DELETE_AI_DOCUMENT = Operation(
    method="delete",
    operation_id="deleteAiDocument",
    summary="Delete an AI document (owners and admins)",
    tags=("ai",),
    security=WRITE,
    params=(Param("document_id", where="path", required=True),),
    answers={204: Answer("Deleted.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)
