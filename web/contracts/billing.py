"""Billing: details, plans, invoices, card payments and Stripe's webhook."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

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
    name: str
    price_per_seat: Annotated[int, Meta(description="minor units (cents) per seat and month")]


class Billing(msgspec.Struct):
    details: Annotated[BillingDetails | None, Meta(description="null until set")]
    plans: list[BillingPlansItem]
    currency: str
    vat_percent: int
    payments: Annotated[bool, Meta(description="Whether card payments (Stripe) are set up")]


class InvoiceLine(msgspec.Struct):
    description: str
    quantity: int
    unit_price: int
    amount: int


class Payment(msgspec.Struct):
    id: str
    provider: str
    reference: str | None
    amount: int
    currency: str
    paid_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class Invoice(msgspec.Struct):
    """An invoice or credit note; amounts in minor units. Never changed once issued: status and payments are derived."""

    id: str
    workspace_id: str
    kind: Literal["invoice", "credit_note"]
    number: str
    issued_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    period: str | None
    currency: str
    buyer: dict[str, Any]
    seller: list[str]
    lines: list[InvoiceLine]
    net: int
    vat_percent: int
    vat: int
    total: int
    note: str | None
    corrects_id: str | None
    credited_by: str | None
    status: Literal["open", "paid", "credited", "credit_note"]
    amount_paid: int
    amount_due: int
    payments: list[Payment]


class ListInvoicesReply(msgspec.Struct):
    items: list[Invoice]
    next_cursor: Annotated[None, Meta(description="Always null: every invoice is on one page")]


class StripeWebhookReply(msgspec.Struct):
    received: Literal[True]


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
