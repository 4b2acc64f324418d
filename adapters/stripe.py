"""Stripe: Checkout Sessions to pay an invoice, and the signed webhooks that confirm it.

Outbound: ``POST https://api.stripe.com/v1/checkout/sessions`` (form-encoded, the secret
key as a bearer token) makes a one-off payment page for an invoice's amount; the invoice
id rides along as ``client_reference_id`` and ``metadata[invoice_id]``. Inbound: Stripe
signs every webhook with ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" with the endpoint's signing secret>`` (several ``v1`` while a secret is
rolled); :func:`verify_webhook` checks it in constant time and refuses one older than the
tolerance (Stripe's libraries: 300 s), so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

API = "https://api.stripe.com"
TOLERANCE_S = 300
PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


class StripeError(Exception):
    """Stripe refused or could not be reached; the message is one sentence, no secrets."""


class BadSignature(Exception):
    """A webhook whose ``Stripe-Signature`` does not prove it came from Stripe."""


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True, slots=True)
class Paid:
    """A completed, paid Checkout Session as a webhook event reports it."""

    event_id: str
    invoice_id: str
    amount: int
    currency: str
    reference: str  # the PaymentIntent (or the session) id


async def create_checkout_session(
    http: httpx.AsyncClient,
    secret_key: str,
    *,
    invoice_id: str,
    description: str,
    amount: int,
    currency: str,
    success_url: str,
    cancel_url: str,
    email: str | None = None,
) -> CheckoutSession:
    """A Checkout Session for paying ``amount`` (minor units) of ``currency`` once."""
    form = {
        "mode": "payment",
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": invoice_id,
        "metadata[invoice_id]": invoice_id,
        "payment_intent_data[metadata][invoice_id]": invoice_id,
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": currency.lower(),
        "line_items[0][price_data][unit_amount]": str(amount),
        "line_items[0][price_data][product_data][name]": description,
    }
    if email:
        form["customer_email"] = email
    try:
        response = await http.post(
            f"{API}/v1/checkout/sessions",
            data=form,
            headers={"Authorization": f"Bearer {secret_key}"},
        )
    except httpx.HTTPError as exc:
        raise StripeError(f"Stripe could not be reached ({type(exc).__name__}).") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400 or not isinstance(body, dict):
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        raise StripeError(f"Stripe refused the payment page ({response.status_code}: {message}).")
    if not isinstance(body.get("id"), str) or not isinstance(body.get("url"), str):
        raise StripeError("Stripe answered without a session id and url.")
    return CheckoutSession(id=body["id"], url=body["url"])


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The header Stripe would send for ``payload`` at ``timestamp`` (tests, tools)."""
    signed = f"{timestamp}.".encode() + payload
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def verify_webhook(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance_s: int = TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """The event of a genuine webhook; :class:`BadSignature` for a missing or malformed
    header, a timestamp older than ``tolerance_s``, or no matching ``v1`` signature."""
    if not header:
        raise BadSignature("The Stripe-Signature header is missing.")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise BadSignature("The Stripe-Signature header has no timestamp or no v1 signature.")
    signed = f"{timestamp}.".encode() + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise BadSignature("No v1 signature matches the body.")
    if timestamp < (time.time() if now is None else now) - tolerance_s:
        raise BadSignature("The signature's timestamp is older than the tolerance.")
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise BadSignature("The signed body is not JSON.") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise BadSignature("The signed body is not a Stripe event.")
    return event


def paid_checkout(event: dict[str, Any]) -> Paid | None:
    """The payment a verified event reports, or None for any other event (or a session
    not paid yet, such as a bank transfer that completes later)."""
    if event.get("type") not in PAID_EVENTS:
        return None
    session = (event.get("data") or {}).get("object") or {}
    if not isinstance(session, dict) or session.get("payment_status") != "paid":
        return None
    invoice_id = (session.get("metadata") or {}).get("invoice_id") or session.get(
        "client_reference_id"
    )
    amount, currency = session.get("amount_total"), session.get("currency")
    if not isinstance(invoice_id, str) or not isinstance(amount, int):
        return None
    if not isinstance(currency, str):
        return None
    reference = session.get("payment_intent") or session.get("id") or ""
    return Paid(
        event_id=str(event["id"]),
        invoice_id=invoice_id,
        amount=amount,
        currency=currency.upper(),
        reference=str(reference),
    )
