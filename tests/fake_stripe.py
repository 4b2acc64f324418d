"""A fake Stripe: a real HTTP server on loopback that makes Checkout Sessions, and sends
the signed ``checkout.session.completed`` webhook a real payment would.

It answers ``POST /v1/checkout/sessions`` in Stripe's form (``id``, ``object``, ``url``,
``amount_total``, …) and keeps each session with the form it was made from;
:meth:`FakeStripe.complete` then plays the customer paying: it posts the event to the
hub's webhook with ``Stripe-Signature: t=…,v1=…`` made with the endpoint secret.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.stripe import signature_header
from tests import loopback
from tests.conftest import free_port

ORIGIN = "https://api.stripe.com"
WEBHOOK_SECRET = "whsec_test_0123456789abcdef"
SECRET_KEY = "sk_test_fake_0123456789"


@dataclass
class FakeStripe:
    url: str = ""
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorizations: list[str] = field(default_factory=list)
    refuse_next: bool = False  # answer the next session request as Stripe refuses one

    async def _create_session(self, request: Request) -> Response:
        self.authorizations.append(request.headers.get("authorization", ""))
        if self.refuse_next:
            self.refuse_next = False
            error = {"type": "invalid_request_error", "message": "Invalid currency: xyz"}
            return JSONResponse({"error": error}, status_code=400)
        form = dict(parse_qsl((await request.body()).decode()))
        session_id = f"cs_test_{uuid.uuid4().hex}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": {"invoice_id": form.get("metadata[invoice_id]")},
            "payment_status": "unpaid",
            "status": "open",
            "form": form,
        }
        self.sessions[session_id] = session
        return JSONResponse({k: v for k, v in session.items() if k != "form"})

    def event(self, session_id: str, event_id: str | None = None) -> bytes:
        """The ``checkout.session.completed`` event of a paid session, as Stripe sends it."""
        session = {k: v for k, v in self.sessions[session_id].items() if k != "form"}
        session.update(payment_status="paid", status="complete", payment_intent="pi_test_1")
        event = {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "type": "checkout.session.completed",
            "livemode": False,
            "data": {"object": session},
        }
        return orjson.dumps(event)

    async def send(
        self, hub_url: str, payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None
    ) -> httpx.Response:
        header = signature_header(payload, secret, at if at is not None else int(time.time()))
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await client.post(
                f"{hub_url}/webhooks/stripe",
                content=payload,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )


@asynccontextmanager
async def running_fake_stripe() -> AsyncIterator[FakeStripe]:
    fake = FakeStripe()
    app = Starlette(routes=[Route("/v1/checkout/sessions", fake._create_session, methods=["POST"])])
    port = free_port()
    async with loopback.serving(app, port):
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
