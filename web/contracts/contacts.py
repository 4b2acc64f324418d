"""The contacts routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.contracts.common import ChannelKind, ConsentRecord
from web.operation import (
    BODY_FAULTS,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    WRITE,
    Answer,
    Fault,
    Operation,
    Param,
)


class Identity(msgspec.Struct):
    channel_id: str
    kind: ChannelKind | None
    external_id: str


class Contact(msgspec.Struct):
    id: str
    name: str | None
    email: str | None
    phone: str | None
    attributes: dict[str, Any]
    identities: list[Identity]
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    updated_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType = UNSET
    processing: (
        Annotated[
            Literal["normal", "restricted", "objected"],
            Meta(
                description="`restricted`: no flow, AI step, CSAT or other automated message runs for the contact; operators may still reply. `objected`: nothing outbound unless the operator's message says `confirm_objection: true` (else 409 `contact_objected`)."
            ),
        ]
        | UnsetType
    ) = UNSET
    processing_changed_at: (
        Annotated[
            Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | None,
            Meta(
                description="When processing last changed (audited as `contact_processing_<value>`)."
            ),
        ]
        | UnsetType
    ) = UNSET
    processing_changed_by: (
        Annotated[str | None, Meta(description="The operator who last changed processing.")]
        | UnsetType
    ) = UNSET
    consent: (
        Annotated[
            ConsentRecord | None,
            Meta(description="The newest consent answer (single contact reads)."),
        ]
        | UnsetType
    ) = UNSET


class ListContactsReply(msgspec.Struct):
    items: list[Contact]
    next_cursor: str | UnsetType | None = UNSET


class ContactPatch(msgspec.Struct):
    """Only these fields change; read-only fields echoed from GET (id, identities, created_at, updated_at, processing_changed_at, processing_changed_by) are ignored, any other field is refused with 422."""

    name: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET
    phone: str | UnsetType | None = UNSET
    attributes: dict[str, Any] | UnsetType = UNSET
    processing: (
        Annotated[
            Literal["normal", "restricted", "objected"],
            Meta(
                description="`restricted`: no flow, AI step, CSAT or other automated message runs for the contact; operators may still reply. `objected`: nothing outbound unless the operator's message says `confirm_objection: true` (else 409 `contact_objected`)."
            ),
        ]
        | UnsetType
    ) = UNSET


class ContactExportWorkspace(msgspec.Struct):
    id: str
    name: str


class Booking(msgspec.Struct):
    id: str | UnsetType = UNSET
    conversation_id: str | UnsetType | None = UNSET
    provider: str | UnsetType = UNSET
    summary: str | UnsetType | None = UNSET
    starts_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType = UNSET
    ends_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType = UNSET
    status: str | UnsetType = UNSET
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType = UNSET


class ContactExport(msgspec.Struct):
    exported_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    workspace: ContactExportWorkspace
    contact: Contact
    conversations: list[
        Annotated[
            Any,
            Meta(
                extra_json_schema={
                    "allOf": [
                        {"$ref": "#/components/schemas/Conversation"},
                        {
                            "type": "object",
                            "properties": {
                                "last_message_at": {
                                    "type": ["string", "null"],
                                    "format": "date-time",
                                },
                                "messages": {
                                    "type": "array",
                                    "items": {
                                        "allOf": [
                                            {"$ref": "#/components/schemas/Message"},
                                            {
                                                "type": "object",
                                                "properties": {
                                                    "error": {"type": ["string", "null"]}
                                                },
                                            },
                                        ]
                                    },
                                },
                            },
                        },
                    ]
                }
            ),
        ]
    ]
    bookings: list[Booking]
    format: str | UnsetType = UNSET


# GET /api/contacts
LIST_CONTACTS = Operation(
    method="get",
    operation_id="listContacts",
    summary="List contacts, newest first",
    tags=("contacts",),
    params=(
        Param(
            "q",
            kind=Annotated[str, Meta(max_length=200)],
            description="Contacts whose name, email or phone holds this text.",
        ),
        Param("limit", kind=Annotated[int, Meta(ge=1, le=200)]),
        Param("cursor"),
    ),
    answers={200: Answer("A page.", body=ListContactsReply)},
    faults=(
        Fault(422, "invalid", "Bad limit or cursor."),
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# GET /api/contacts/{contact_id}
GET_CONTACT = Operation(
    method="get",
    operation_id="getContact",
    summary="One contact with its channel identities",
    tags=("contacts",),
    params=(Param("contact_id", where="path", required=True),),
    answers={200: Answer("The contact.", body=Contact)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# PATCH /api/contacts/{contact_id}
PATCH_CONTACT = Operation(
    method="patch",
    operation_id="patchContact",
    summary="Correct a contact's profile",
    tags=("contacts",),
    security=WRITE,
    body=ContactPatch,
    params=(Param("contact_id", where="path", required=True),),
    answers={200: Answer("The updated contact.", body=Contact)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# DELETE /api/contacts/{contact_id}
ERASE_CONTACT = Operation(
    method="delete",
    operation_id="eraseContact",
    summary="Erase a contact and its conversations everywhere (owners, admins; agents if allowed)",
    tags=("contacts",),
    security=WRITE,
    params=(Param("contact_id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# GET /api/contacts/{contact_id}/export
EXPORT_CONTACT = Operation(
    method="get",
    operation_id="exportContact",
    summary="Export everything held about a contact (owners, admins; agents if allowed)",
    tags=("contacts",),
    params=(Param("contact_id", where="path", required=True),),
    answers={
        200: Answer("One portable JSON document (served as an attachment).", body=ContactExport)
    },
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# POST /api/contacts/{contact_id}/consent/withdraw
WITHDRAW_CONSENT = Operation(
    method="post",
    operation_id="withdrawConsent",
    summary="Record a consent withdrawal the contact gave another way (audited)",
    tags=("contacts",),
    security=WRITE,
    params=(Param("contact_id", where="path", required=True),),
    answers={201: Answer("The withdrawal as recorded.", body=ConsentRecord)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(422, "invalid", "Invalid fields; the detail names the field."),
    ),
)
