"""Billing: details, plans, invoices, card payments and Stripe's webhook."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.operation import PUBLIC, UNAUTHORIZED, WRITE, Answer, Fault, Operation, Param


class BillingDetailsInput(msgspec.Struct, forbid_unknown_fields=True):
    """``PUT /api/billing/details``: who the invoices are made out to, and for what."""

    company_name: Annotated[str, Meta(min_length=1, max_length=200)]
    address: Annotated[str, Meta(min_length=1, max_length=500)]
    country: Annotated[str, Meta(pattern="^[A-Za-z]{2}$")]
    plan: Annotated[str, Meta(min_length=1, max_length=32)]
    seats: Annotated[int, Meta(ge=1, le=100_000)]
    vat_id: Annotated[str, Meta(max_length=40)] | None = None
    email: Annotated[str, Meta(max_length=254, pattern="^[^@\\s]+@[^@\\s]+$")] | None = None


class CheckoutAnswer(msgspec.Struct):
    """``POST /api/billing/invoices/{id}/pay`` → where to send the owner's browser."""

    checkout_url: str
    session_id: str


class BillingDetails(msgspec.Struct):
    workspace_id: str
    company_name: str
    address: str
    country: str
    vat_id: Annotated[
        str | None, Meta(description="Normalized: the EU VIES prefix and no spaces; BiH: 12 digits")
    ]
    email: str | None
    plan: str
    seats: int
    updated_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class BillingPlansItem(msgspec.Struct):
    name: str | UnsetType = UNSET
    price_per_seat: (
        Annotated[int, Meta(description="minor units (cents) per seat and month")] | UnsetType
    ) = UNSET


class Billing(msgspec.Struct):
    details: BillingDetails | UnsetType | None = UNSET
    plans: list[BillingPlansItem] | UnsetType = UNSET
    currency: str | UnsetType = UNSET
    vat_percent: int | UnsetType = UNSET
    payments: (
        Annotated[bool, Meta(description="Whether card payments (Stripe) are set up")] | UnsetType
    ) = UNSET


class InvoiceLine(msgspec.Struct):
    description: str | UnsetType = UNSET
    quantity: int | UnsetType = UNSET
    unit_price: int | UnsetType = UNSET
    amount: int | UnsetType = UNSET


class Payment(msgspec.Struct):
    id: str | UnsetType = UNSET
    provider: str | UnsetType = UNSET
    reference: str | UnsetType | None = UNSET
    amount: int | UnsetType = UNSET
    currency: str | UnsetType = UNSET
    paid_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType = UNSET


class Invoice(msgspec.Struct):
    """An invoice or credit note; amounts in minor units. Never changed once issued: status and payments are derived."""

    id: str | UnsetType = UNSET
    workspace_id: str | UnsetType = UNSET
    kind: Literal["invoice", "credit_note"] | UnsetType = UNSET
    number: str | UnsetType = UNSET
    issued_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType = UNSET
    period: str | UnsetType | None = UNSET
    currency: str | UnsetType = UNSET
    buyer: dict[str, Any] | UnsetType = UNSET
    seller: list[str] | UnsetType = UNSET
    lines: list[InvoiceLine] | UnsetType = UNSET
    net: int | UnsetType = UNSET
    vat_percent: int | UnsetType = UNSET
    vat: int | UnsetType = UNSET
    total: int | UnsetType = UNSET
    note: str | UnsetType | None = UNSET
    corrects_id: str | UnsetType | None = UNSET
    credited_by: str | UnsetType | None = UNSET
    status: Literal["open", "paid", "credited", "credit_note"] | UnsetType = UNSET
    amount_paid: int | UnsetType = UNSET
    amount_due: int | UnsetType = UNSET
    payments: list[Payment] | UnsetType = UNSET


class ListInvoicesReply(msgspec.Struct):
    items: list[Invoice] | UnsetType = UNSET
    next_cursor: UnsetType | None = UNSET


class StripeWebhookReply(msgspec.Struct):
    received: Literal[True] | UnsetType = UNSET


# GET /api/billing
SHOW_BILLING = Operation(
    method="get",
    operation_id="showBilling",
    summary="The workspace's billing details, the plans and the terms (owners)",
    tags=("billing",),
    answers={
        200: Answer("Billing details (null until set), plans, currency, VAT rate.", body=Billing)
    },
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role other than owner (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(404, "billing_off", "Billing is not turned on on this server (INVIARO_BILLING)."),
    ),
)


# PUT /api/billing/details
SET_BILLING_DETAILS = Operation(
    method="put",
    operation_id="setBillingDetails",
    summary="Set the billing details, plan and seats (owners; audited)",
    tags=("billing",),
    security=WRITE,
    body=BillingDetailsInput,
    answers={200: Answer("The details as stored.", body=BillingDetails)},
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role other than owner (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(404, "billing_off", "Billing is not turned on on this server (INVIARO_BILLING)."),
        Fault(
            422, "invalid", "vat_id for DE must be DE followed by 9 digits, such as DE123456789."
        ),
    ),
)


# GET /api/billing/invoices
LIST_INVOICES = Operation(
    method="get",
    operation_id="listInvoices",
    summary="The workspace's invoices and credit notes, newest first (owners)",
    tags=("billing",),
    answers={200: Answer("Invoices.", body=ListInvoicesReply)},
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role other than owner (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(404, "billing_off", "Billing is not turned on on this server (INVIARO_BILLING)."),
    ),
)


# GET /api/billing/invoices/{invoice_id}
SHOW_INVOICE = Operation(
    method="get",
    operation_id="showInvoice",
    summary="One invoice with its payments (owners)",
    tags=("billing",),
    params=(Param("invoice_id", where="path", required=True),),
    answers={200: Answer("The invoice.", body=Invoice)},
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role other than owner (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(404, "not_found", "There is no such invoice."),
    ),
)


# GET /api/billing/invoices/{invoice_id}/html
INVOICE_HTML = Operation(
    method="get",
    operation_id="invoiceHtml",
    summary="The invoice as an HTML page (owners)",
    tags=("billing",),
    params=(Param("invoice_id", where="path", required=True),),
    answers={200: Answer("The page.", body=str, media_type="text/html")},
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role other than owner (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(404, "not_found", "There is no such invoice."),
    ),
)


# GET /api/billing/invoices/{invoice_id}/pdf
INVOICE_PDF = Operation(
    method="get",
    operation_id="invoicePdf",
    summary="The invoice as a PDF download (owners)",
    tags=("billing",),
    params=(Param("invoice_id", where="path", required=True),),
    answers={
        200: Answer(
            "The PDF, named after the invoice number.",
            body=Annotated[str, Meta(extra_json_schema={"format": "binary"})],
            media_type="application/pdf",
        )
    },
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role other than owner (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(404, "not_found", "There is no such invoice."),
    ),
)


# POST /api/billing/invoices/{invoice_id}/pay
PAY_INVOICE = Operation(
    method="post",
    operation_id="payInvoice",
    summary="A Stripe Checkout page for what the invoice has due (owners; audited)",
    tags=("billing",),
    security=WRITE,
    params=(Param("invoice_id", where="path", required=True),),
    answers={200: Answer("Send the browser to checkout_url.", body=CheckoutAnswer)},
    faults=(
        UNAUTHORIZED,
        Fault(
            403,
            "forbidden",
            "Missing or wrong X-CSRF-Token (code `csrf`), a role other than owner (`forbidden`), or 2FA required by the workspace (`2fa_required`).",
        ),
        Fault(404, "not_found", "There is no such invoice."),
        Fault(409, "not_payable", "Invoice INV-2026-000001 has nothing to pay."),
        Fault(502, "provider_error", "Stripe refused the payment page."),
        Fault(503, "payments_off", "Card payments are not set up on this server."),
    ),
)


# POST /webhooks/stripe
STRIPE_WEBHOOK = Operation(
    method="post",
    operation_id="stripeWebhook",
    summary="Stripe's events, signed with Stripe-Signature (t=…,v1=… HMAC-SHA256, 300 s tolerance); a paid Checkout Session records a payment once per event id",
    tags=("webhooks",),
    security=PUBLIC,
    body=dict[str, Any],
    params=(Param("Stripe-Signature", where="header", required=True),),
    answers={
        200: Answer("Received (a redelivered event is stored once).", body=StripeWebhookReply)
    },
    faults=(
        Fault(400, "bad_signature", "No v1 signature matches the body."),
        Fault(404, "billing_off", "Billing is not turned on on this server (INVIARO_BILLING)."),
        Fault(413, "too_large", "The body is larger than 524288 bytes."),
        Fault(503, "payments_off", "Stripe webhooks are not set up on this server."),
    ),
)
