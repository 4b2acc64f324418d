"""Billing for owners, and Stripe's webhook: the routes of :mod:`storage.billing`.

Only where the server turns billing on (``INVIARO_BILLING``: a hosting business); on a
self-hosted install every route here answers 404 with a sentence saying so.

- ``GET /api/billing``: the workspace's billing details, the plans and the terms;
- ``PUT /api/billing/details``: set them (422 with every field's problem; a VAT
  identifier that does not fit its country's format names the expected one);
- ``GET /api/billing/invoices``, ``GET /api/billing/invoices/{id}`` and its ``/html`` and
  ``/pdf``: invoices and credit notes, with payments and status;
- ``POST /api/billing/invoices/{id}/pay``: a Stripe Checkout page for what is due;
- ``POST /webhooks/stripe``: Stripe's signed events; a paid Checkout Session records a
  payment, once per event id. A bad signature is answered 400 and nothing is stored.

Invoices are issued by the server admin (``inviaro billing issue``), never changed, and
corrected by a credit note (``inviaro billing credit-note``).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from adapters import stripe
from hub.store import NotFound
from storage import billing
from web import audit
from web.auth.context import Principal, require
from web.config import Settings
from web.contracts import billing as billing_contract
from web.contracts.billing import CheckoutAnswer
from web.errors import ApiError, read_body
from web.operation import declare

log = logging.getLogger("inviaro.billing")

OWNERS = ("owner",)
MAX_WEBHOOK_BYTES = 512 * 1024


def terms(settings: Settings) -> billing.Terms:
    return billing.Terms(
        currency=settings.billing_currency,
        vat_percent=settings.billing_vat_percent,
        plans=dict(settings.billing_plans),
        seller=settings.billing_seller,
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not settings.billing:
        raise ApiError(
            404, "billing_off", "Billing is not turned on on this server (INVIARO_BILLING)."
        )
    return settings


@declare(billing_contract.SHOW_BILLING)
async def show_billing(request: Request) -> Response:
    settings = _settings(request)
    who = await require(request, roles=OWNERS)
    async with request.app.state.services.db() as db:
        account = await billing.get_account(await db.connection(), who.workspace_id)
    return JSONResponse(
        {
            "details": account,
            "plans": [{"name": n, "price_per_seat": p} for n, p in settings.billing_plans],
            "currency": settings.billing_currency,
            "vat_percent": settings.billing_vat_percent,
            "payments": bool(settings.stripe_secret_key),
        }
    )


@declare(billing_contract.SET_BILLING_DETAILS)
async def set_details(request: Request) -> Response:
    settings = _settings(request)
    who = await require(request, roles=OWNERS)
    body = await billing_contract.SET_BILLING_DETAILS.parse(
        request, billing_contract.BillingDetailsInput
    )
    async with request.app.state.services.db() as db, db.begin():
        try:
            account = await billing.set_account(
                await db.connection(), who.workspace_id, msgspec.to_builtins(body), terms(settings)
            )
        except billing.InvalidBilling as exc:
            problems = [{"field": exc.field, "detail": str(exc)}]
            raise ApiError(422, "invalid", str(exc), extra={"problems": problems}) from None
        await audit.by_principal(
            db, request, who, "billing_details_updated", "workspace", who.workspace_id
        )
    return JSONResponse(account)


@declare(billing_contract.LIST_INVOICES)
async def list_invoices(request: Request) -> Response:
    _settings(request)
    who = await require(request, roles=OWNERS)
    async with request.app.state.services.db() as db:
        items = await billing.list_invoices(await db.connection(), who.workspace_id)
    return JSONResponse({"items": items, "next_cursor": None})


async def _invoice(request: Request, who: Principal | None = None) -> dict[str, Any]:
    who = who or await require(request, roles=OWNERS)
    invoice_id = str(request.path_params["invoice_id"])[:64]
    async with request.app.state.services.db() as db:
        try:
            return await billing.get_invoice(await db.connection(), who.workspace_id, invoice_id)
        except NotFound:
            raise ApiError(404, "not_found", "There is no such invoice.") from None


@declare(billing_contract.SHOW_INVOICE)
async def show_invoice(request: Request) -> Response:
    _settings(request)
    return JSONResponse(await _invoice(request))


@declare(billing_contract.INVOICE_HTML)
async def invoice_html(request: Request) -> Response:
    from web.billing_render import render_html

    _settings(request)
    return HTMLResponse(render_html(await _invoice(request)))


@declare(billing_contract.INVOICE_PDF)
async def invoice_pdf(request: Request) -> Response:
    from web.billing_render import render_pdf

    _settings(request)
    invoice = await _invoice(request)
    return Response(
        render_pdf(invoice),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice["number"]}.pdf"'},
    )


@declare(billing_contract.PAY_INVOICE)
async def pay_invoice(request: Request) -> Response:
    settings = _settings(request)
    if not settings.stripe_secret_key:
        raise ApiError(503, "payments_off", "Card payments are not set up on this server.")
    who = await require(request, roles=OWNERS)
    invoice = await _invoice(request, who)
    if invoice["status"] != "open" or invoice["amount_due"] <= 0:
        raise ApiError(409, "not_payable", f"Invoice {invoice['number']} has nothing to pay.")
    back = f"{settings.public_url}/settings#billing"
    try:
        session = await stripe.create_checkout_session(
            request.app.state.services.http,
            settings.stripe_secret_key,
            invoice_id=invoice["id"],
            description=f"Invoice {invoice['number']}",
            amount=invoice["amount_due"],
            currency=invoice["currency"],
            success_url=back + "?paid=" + invoice["id"],
            cancel_url=back,
            email=invoice["buyer"].get("email"),
        )
    except stripe.StripeError as exc:
        log.warning("stripe checkout for %s failed: %s", invoice["id"], exc)
        raise ApiError(502, "provider_error", str(exc)) from None
    async with request.app.state.services.db() as db, db.begin():
        await audit.by_principal(db, request, who, "invoice_checkout", "invoice", invoice["id"])
    answer = CheckoutAnswer(checkout_url=session.url, session_id=session.id)
    return JSONResponse(msgspec.to_builtins(answer))


@declare(billing_contract.STRIPE_WEBHOOK)
async def stripe_webhook(request: Request) -> Response:
    """Verify first (400, nothing stored), then record a paid Checkout Session once."""
    settings = _settings(request)
    if not settings.stripe_webhook_secret:
        raise ApiError(503, "payments_off", "Stripe webhooks are not set up on this server.")
    payload = await read_body(request, MAX_WEBHOOK_BYTES)
    try:
        event = stripe.verify_webhook(
            payload, request.headers.get("stripe-signature"), settings.stripe_webhook_secret
        )
    except stripe.BadSignature as exc:
        log.info("stripe webhook refused: %s", exc)
        raise ApiError(400, "bad_signature", str(exc)) from None
    paid = stripe.paid_checkout(event)
    if paid is None:
        return JSONResponse({"received": True})
    async with request.app.state.services.db() as db, db.begin():
        try:
            new = await billing.record_payment(
                await db.connection(),
                paid.invoice_id,
                provider="stripe",
                event_id=paid.event_id,
                reference=paid.reference,
                amount=paid.amount,
                currency=paid.currency,
            )
        except NotFound:
            # Acknowledged so Stripe stops retrying; nothing of ours to record it against.
            log.warning("stripe event %s names no invoice of ours", paid.event_id)
            return JSONResponse({"received": True})
    log.info("stripe event %s: payment %s", paid.event_id, "recorded" if new else "seen before")
    return JSONResponse({"received": True})


routes = [
    Route("/api/billing", show_billing, methods=["GET"]),
    Route("/api/billing/details", set_details, methods=["PUT"]),
    Route("/api/billing/invoices", list_invoices, methods=["GET"]),
    Route("/api/billing/invoices/{invoice_id}", show_invoice, methods=["GET"]),
    Route("/api/billing/invoices/{invoice_id}/html", invoice_html, methods=["GET"]),
    Route("/api/billing/invoices/{invoice_id}/pdf", invoice_pdf, methods=["GET"]),
    Route("/api/billing/invoices/{invoice_id}/pay", pay_invoice, methods=["POST"]),
    Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
]
