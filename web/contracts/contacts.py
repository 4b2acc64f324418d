"""The contacts routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from storage import privacy
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
from web.schema import Invalid


class Identity(msgspec.Struct):
    channel_id: str
    kind: ChannelKind | None
    external_id: str


Processing = Annotated[
    Literal["normal", "restricted", "objected"],
    Meta(
        description="`restricted`: no flow, AI step, CSAT or other automated message runs for the contact; operators may still reply. `objected`: nothing outbound unless the operator's message says `confirm_objection: true` (else 409 `contact_objected`)."
    ),
]


class Contact(msgspec.Struct):
    id: str
    name: str | None
    email: str | None
    phone: str | None
    attributes: dict[str, Any]
    identities: list[Identity]
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    updated_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    processing: Processing
    processing_changed_at: Annotated[
        Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | None,
        Meta(description="When processing last changed (audited as `contact_processing_<value>`)."),
    ]
    processing_changed_by: Annotated[
        str | None, Meta(description="The operator who last changed processing.")
    ]
    consent: (
        Annotated[
            ConsentRecord | None,
            Meta(description="The newest consent answer (single contact reads)."),
        ]
        | UnsetType
    ) = UNSET


class ListContactsReply(msgspec.Struct):
    items: list[Contact]
    next_cursor: str | None


MAX_NAME = 200  # the widths of the contacts table's columns
MAX_EMAIL = 320
MAX_PHONE = 64
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 100
MAX_ATTRIBUTES_JSON = 16 * 1024

# Loose on purpose: one @, something on each side, a dot in the domain; "" clears it.
ContactEmail = Annotated[str, Meta(max_length=MAX_EMAIL, pattern=r"^([^@\s]+@[^@\s]+\.[^@\s.]+)?$")]
ContactPhone = Annotated[
    str,
    Meta(
        max_length=MAX_PHONE,
        pattern=r"^(\+?[0-9 ()./-]{3,40})?$",
        description='At least three digits; spaces, ( ) . / - allowed; "" clears it.',
    ),
]
AttributeName = Annotated[str, Meta(min_length=1, max_length=MAX_ATTRIBUTE_KEY, pattern=r"\S")]
Attributes = Annotated[
    dict[AttributeName, Any],
    Meta(
        max_length=MAX_ATTRIBUTES,
        description=f"Replaces all attributes; at most {MAX_ATTRIBUTES_JSON} bytes as JSON; null clears them.",
    ),
]
ReadOnly = Annotated[
    Any, Meta(description="Read-only: ignored, so a contact read can be sent back.")
]


class ContactPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent change (null or "" clears one); the read-only fields of a contact read are ignored, any other field is refused with 422."""

    name: Annotated[str, Meta(max_length=MAX_NAME)] | UnsetType | None = UNSET
    email: ContactEmail | UnsetType | None = UNSET
    phone: ContactPhone | UnsetType | None = UNSET
    attributes: Attributes | UnsetType | None = UNSET
    processing: Processing | UnsetType = UNSET
    id: ReadOnly | UnsetType = UNSET
    identities: ReadOnly | UnsetType = UNSET
    created_at: ReadOnly | UnsetType = UNSET
    updated_at: ReadOnly | UnsetType = UNSET
    processing_changed_at: ReadOnly | UnsetType = UNSET
    processing_changed_by: ReadOnly | UnsetType = UNSET
    consent: ReadOnly | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.phone, str) and self.phone and sum(c.isdigit() for c in self.phone) < 3:
            raise Invalid("phone", "A phone number has at least three digits.")
        if isinstance(self.attributes, dict):
            size = len(msgspec.json.encode(self.attributes))
            if size > MAX_ATTRIBUTES_JSON:
                raise Invalid("attributes", f"Larger than {MAX_ATTRIBUTES_JSON} bytes as JSON.")

    def changes(self) -> privacy.ContactChanges:
        """The editable fields sent, for :func:`storage.privacy.update_contact`: "" is
        stored as null, and null attributes as no attributes."""
        changes = privacy.ContactChanges()
        if self.name is not UNSET:
            changes["name"] = self.name or None
        if self.email is not UNSET:
            changes["email"] = self.email or None
        if self.phone is not UNSET:
            changes["phone"] = self.phone or None
        if self.attributes is not UNSET:
            changes["attributes"] = self.attributes or {}
        return changes


class ContactExportWorkspace(msgspec.Struct):
    id: str
    name: str


class Booking(msgspec.Struct):
    id: str
    conversation_id: str | None
    provider: str
    summary: str | None
    starts_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    ends_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    status: str
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


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
    format: str


# GET /api/contacts
LIST_CONTACTS = Operation(
    method="get",
    operation_id="listContacts",
    summary="List contacts, newest first",
    tags=("contacts",),
    params=(
        Param(
            "q",
            description="Contacts whose name, email or phone holds this text (its first 200 characters).",
        ),
        Param("limit", kind=Annotated[int, Meta(ge=1, le=200)], default=50),
        Param("cursor", kind=Annotated[str, Meta(max_length=64)]),
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
