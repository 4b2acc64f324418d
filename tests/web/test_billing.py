"""Billing records: details, invoices numbered without gaps, credit notes, Stripe payments.

A server with billing on (``INVIARO_BILLING``) and Stripe pointed at a fake on loopback
(``INVIARO_PROVIDER_ORIGINS``); invoices are issued as the server admin issues them
(:mod:`storage.billing`, behind ``inviaro billing issue``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import billing
from storage.db import make_engine
from tests.conftest import LiveServer, make_settings, start_server
from tests.fake_stripe import ORIGIN, SECRET_KEY, WEBHOOK_SECRET, FakeStripe, running_fake_stripe
from tests.helpers import Account, add_operator, new_client, signup
from web import config
from web.api.billing import terms
from web.contracts import billing as billing_contract

DETAILS = {
    "company_name": "Čelik i Đurđević d.o.o.",
    "address": "Zmaja od Bosne 8, 71000 Sarajevo",
    "country": "BA",
    "vat_id": "4200 0000 0001",
    "plan": "business",
    "seats": 3,
    "email": "racuni@example.ba",
}
BILLING: dict[str, Any] = {
    "billing": True,
    "billing_plans": (("standard", 1500), ("business", 2900)),
    "billing_vat_percent": 17,
    "billing_currency": "EUR",
    "billing_seller": ("Inviaro Hosting d.o.o.", "Titova 1, 71000 Sarajevo", "PDV 400000000001"),
    "stripe_secret_key": SECRET_KEY,
    "stripe_webhook_secret": WEBHOOK_SECRET,
}


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeStripe]:
    async with running_fake_stripe() as fake:
        yield fake


@pytest.fixture(scope="module")
async def billing_live(db_url: str, fake: FakeStripe) -> AsyncIterator[LiveServer]:
    settings = make_settings(db_url, provider_origins=((ORIGIN, fake.url),), **BILLING)
    live, server, task = await start_server(settings)
    yield live
    server.should_exit = True
    await task


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def owner(billing_live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(billing_live.url) as client:
        yield await signup(client)


async def put_details(owner: Account, details: dict[str, Any] = DETAILS) -> httpx.Response:
    return await owner.client.put("/api/billing/details", json=details, headers=owner.csrf)


async def issue(engine: AsyncEngine, live: LiveServer, workspace_id: str) -> dict[str, Any]:
    async with engine.begin() as conn:
        return await billing.issue_invoice(conn, workspace_id, terms(live.settings), "2026-12")


async def test_billing_routes_answer_404_with_a_sentence_when_billing_is_off(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    for response in (
        await owner.get("/api/billing"),
        await owner.get("/api/billing/invoices"),
        await client.post("/webhooks/stripe", content=b"{}"),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == (
            "Billing is not turned on on this server (INVIARO_BILLING)."
        )


async def test_an_owner_sets_billing_details_and_reads_them_back(owner: Account) -> None:
    saved = await put_details(owner)
    assert saved.status_code == 200, saved.text
    shown = (await owner.get("/api/billing")).json()
    assert shown["details"]["vat_id"] == "420000000001"  # spaces gone, BiH: no prefix
    assert shown["details"]["company_name"] == DETAILS["company_name"]
    assert {"name": "business", "price_per_seat": 2900} in shown["plans"]
    audit = (await owner.get("/api/audit")).json()["items"]
    assert "billing_details_updated" in [e["action"] for e in audit]


@pytest.mark.parametrize(
    ("country", "vat_id", "expected"),
    [
        ("DE", "DE12345", "vat_id for DE must be DE followed by 9 digits, such as DE123456789."),
        ("BA", "12345", "vat_id for BA must be 12 digits (the PDV number), such as 123456789012."),
        (
            "GR",
            "GR123456789",
            "vat_id for GR must be EL followed by 9 digits, such as EL123456789.",
        ),
        ("NL", "NL123456789", "vat_id for NL must be NL followed by 9 digits, B and 2 digits"),
    ],
)
async def test_an_invalid_vat_id_is_refused_with_the_expected_format(
    owner: Account, country: str, vat_id: str, expected: str
) -> None:
    refused = await put_details(owner, {**DETAILS, "country": country, "vat_id": vat_id})
    assert refused.status_code == 422
    assert refused.json()["error"] == "invalid"
    assert refused.json()["detail"].startswith(expected)
    assert refused.json()["problems"][0]["field"] == "vat_id"


@pytest.mark.parametrize(
    ("country", "vat_id", "stored"),
    [("AT", "atu12345678", "ATU12345678"), ("HR", "12345678901", "HR12345678901")],
)
async def test_a_valid_vat_id_is_stored_with_its_country_prefix(
    owner: Account, country: str, vat_id: str, stored: str
) -> None:
    saved = await put_details(owner, {**DETAILS, "country": country, "vat_id": vat_id})
    assert saved.status_code == 200, saved.text
    assert saved.json()["vat_id"] == stored


async def test_every_bad_field_of_the_details_is_named(owner: Account) -> None:
    refused = await put_details(owner, {**DETAILS, "seats": 0, "company_name": "", "extra": 1})
    assert refused.status_code == 422
    fields = {p["field"] for p in refused.json()["problems"]}
    assert fields == {"seats", "company_name", "extra"}


async def test_only_owners_see_billing(owner: Account, billing_live: LiveServer) -> None:
    admin = await add_operator(owner, "admin", base_url=billing_live.url)
    try:
        assert (await admin.get("/api/billing")).status_code == 403
        assert (await admin.get("/api/billing/invoices")).status_code == 403
    finally:
        await admin.client.aclose()


async def test_invoices_issued_at_once_get_consecutive_numbers_without_gaps(
    owner: Account, billing_live: LiveServer, db_url: str
) -> None:
    await put_details(owner)
    engines = [make_engine(db_url) for _ in range(2)]
    try:
        made = await asyncio.gather(
            *(issue(engines[i % 2], billing_live, owner.workspace_id) for i in range(8))
        )
    finally:
        for each in engines:
            await each.dispose()
    seqs = sorted(int(i["number"].rsplit("-", 1)[1]) for i in made)
    assert seqs == list(range(seqs[0], seqs[0] + 8))
    assert all(i["number"].startswith("INV-") for i in made)


async def test_an_invoice_bills_the_plan_per_seat_with_vat_to_the_details_at_issue(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    await put_details(owner, {**DETAILS, "company_name": "Renamed Ltd"})
    shown = (await owner.get(f"/api/billing/invoices/{invoice['id']}")).json()
    assert (shown["net"], shown["vat"], shown["total"]) == (8700, 1479, 10179)
    assert shown["buyer"]["company_name"] == DETAILS["company_name"]  # as it was at issue
    assert shown["status"] == "open" and shown["amount_due"] == 10179


async def test_an_issued_invoice_is_never_changed_and_a_credit_note_corrects_it(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    url = f"/api/billing/invoices/{invoice['id']}"
    assert (await owner.patch(url, json={"total": 1})).status_code == 405
    assert (await owner.delete(url)).status_code == 405
    async with engine.begin() as conn:
        note = await billing.issue_credit_note(conn, invoice["id"], "wrong seat count")
    assert note["number"].startswith("CN-") and note["total"] == -invoice["total"]
    assert note["corrects_id"] == invoice["id"]
    shown = (await owner.get(url)).json()
    assert shown["status"] == "credited" and shown["credited_by"] == note["id"]
    assert shown["total"] == invoice["total"] and shown["lines"] == invoice["lines"]
    with pytest.raises(billing.BillingConflict):
        async with engine.begin() as conn:
            await billing.issue_credit_note(conn, invoice["id"], "again")


async def test_an_invoice_is_paid_through_stripe_checkout(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine, fake: FakeStripe
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    paying = await owner.post(f"/api/billing/invoices/{invoice['id']}/pay")
    assert paying.status_code == 200, paying.text
    session_id = paying.json()["session_id"]
    assert paying.json()["checkout_url"].startswith("https://checkout.stripe.com/")
    form = fake.sessions[session_id]["form"]
    assert form["line_items[0][price_data][unit_amount]"] == str(invoice["total"])
    assert form["metadata[invoice_id]"] == invoice["id"] and form["mode"] == "payment"
    assert fake.authorizations[-1] == f"Bearer {SECRET_KEY}"
    delivered = await fake.send(billing_live.url, fake.event(session_id))
    assert delivered.status_code == 200, delivered.text
    shown = (await owner.get(f"/api/billing/invoices/{invoice['id']}")).json()
    assert shown["status"] == "paid" and shown["amount_paid"] == invoice["total"]
    [payment] = shown["payments"]
    assert (payment["provider"], payment["reference"]) == ("stripe", "pi_test_1")
    again = await owner.post(f"/api/billing/invoices/{invoice['id']}/pay")
    assert again.status_code == 409


async def test_a_duplicate_payment_event_is_stored_once(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine, fake: FakeStripe
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    session_id = (await owner.post(f"/api/billing/invoices/{invoice['id']}/pay")).json()[
        "session_id"
    ]
    event = fake.event(session_id, event_id=f"evt_dup_{invoice['id']}")
    for _ in range(3):
        assert (await fake.send(billing_live.url, event)).status_code == 200
    shown = (await owner.get(f"/api/billing/invoices/{invoice['id']}")).json()
    assert len(shown["payments"]) == 1


async def test_every_billing_answer_fills_every_field_its_struct_requires(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine, fake: FakeStripe
) -> None:
    unset = (await owner.get("/api/billing")).json()
    assert msgspec.convert(unset, billing_contract.Billing, strict=True).details is None
    await put_details(owner)
    billed = (await owner.get("/api/billing")).json()
    assert msgspec.convert(billed, billing_contract.Billing, strict=True).details is not None
    invoice = await issue(engine, billing_live, owner.workspace_id)
    session_id = (await owner.post(f"/api/billing/invoices/{invoice['id']}/pay")).json()[
        "session_id"
    ]
    received = await fake.send(billing_live.url, fake.event(session_id))
    msgspec.convert(received.json(), billing_contract.StripeWebhookReply, strict=True)
    async with engine.begin() as conn:
        await billing.issue_credit_note(conn, invoice["id"], "wrong seat count")
    shown = (await owner.get(f"/api/billing/invoices/{invoice['id']}")).json()
    assert shown["payments"] and shown["credited_by"]
    msgspec.convert(shown, billing_contract.Invoice, strict=True)
    listed = (await owner.get("/api/billing/invoices")).json()
    assert len(msgspec.convert(listed, billing_contract.ListInvoicesReply, strict=True).items) == 2


@pytest.mark.parametrize("forgery", ["wrong secret", "stale", "no header", "body changed"])
async def test_a_webhook_with_a_bad_signature_is_refused_and_nothing_is_stored(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine, fake: FakeStripe, forgery: str
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    session_id = (await owner.post(f"/api/billing/invoices/{invoice['id']}/pay")).json()[
        "session_id"
    ]
    event = fake.event(session_id)
    if forgery == "wrong secret":
        answer = await fake.send(billing_live.url, event, secret="whsec_not_the_one")
    elif forgery == "stale":
        answer = await fake.send(billing_live.url, event, at=int(time.time()) - 3600)
    elif forgery == "no header":
        async with httpx.AsyncClient() as plain:
            answer = await plain.post(f"{billing_live.url}/webhooks/stripe", content=event)
    else:
        signed = await fake.send(billing_live.url, b"{}")  # a genuine signature, other body
        assert signed.status_code == 400  # not an event
        from adapters.stripe import signature_header

        header = signature_header(b'{"id": "evt_x"}', WEBHOOK_SECRET, int(time.time()))
        async with httpx.AsyncClient() as plain:
            answer = await plain.post(
                f"{billing_live.url}/webhooks/stripe",
                content=event,
                headers={"Stripe-Signature": header},
            )
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_signature"
    shown = (await owner.get(f"/api/billing/invoices/{invoice['id']}")).json()
    assert shown["payments"] == [] and shown["status"] == "open"


async def test_an_event_for_no_invoice_of_ours_or_of_another_type_stores_nothing(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine, fake: FakeStripe
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    session_id = (await owner.post(f"/api/billing/invoices/{invoice['id']}/pay")).json()[
        "session_id"
    ]
    fake.sessions[session_id]["metadata"] = {"invoice_id": "inv_not_ours"}
    fake.sessions[session_id]["client_reference_id"] = "inv_not_ours"
    assert (await fake.send(billing_live.url, fake.event(session_id))).status_code == 200
    other = orjson.dumps({"id": "evt_other", "type": "customer.created", "data": {"object": {}}})
    assert (await fake.send(billing_live.url, other)).status_code == 200
    shown = (await owner.get(f"/api/billing/invoices/{invoice['id']}")).json()
    assert shown["payments"] == []


async def test_a_refusal_by_stripe_is_a_502_with_a_sentence(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine, fake: FakeStripe
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    fake.refuse_next = True
    refused = await owner.post(f"/api/billing/invoices/{invoice['id']}/pay")
    assert refused.status_code == 502
    assert refused.json() == {
        "error": "provider_error",
        "detail": "Stripe refused the payment page (400: Invalid currency: xyz).",
    }


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"company_name": 5},
        {**DETAILS, "seats": "3"},
        {**DETAILS, "seats": True},
        {**DETAILS, "country": "Bosnia"},
        {**DETAILS, "plan": "platinum"},
        {**DETAILS, "company_name": "x" * 201},
        {**DETAILS, "address": "a\u0000b"},
        {**DETAILS, "email": "not an email"},
        {**DETAILS, "vat_id": None, "country": "XX"},
    ],
)
async def test_malformed_details_are_a_4xx_in_the_error_shape(owner: Account, body: Any) -> None:
    answer = await put_details(owner, body)
    assert 400 <= answer.status_code < 500, answer.text
    assert set(answer.json()) >= {"error", "detail"}


async def test_an_invoice_downloads_as_html_and_pdf(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    page = await owner.get(f"/api/billing/invoices/{invoice['id']}/html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert invoice["number"] in page.text and DETAILS["company_name"] in page.text
    assert "101.79 EUR" in page.text
    pdf = await owner.get(f"/api/billing/invoices/{invoice['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    assert f'filename="{invoice["number"]}.pdf"' in pdf.headers["content-disposition"]


async def test_another_workspaces_invoice_answers_404(
    owner: Account, billing_live: LiveServer, engine: AsyncEngine
) -> None:
    await put_details(owner)
    invoice = await issue(engine, billing_live, owner.workspace_id)
    async with new_client(billing_live.url) as other_client:
        other = await signup(other_client)
        for tail in ("", "/pdf", "/html"):
            answer = await other.get(f"/api/billing/invoices/{invoice['id']}{tail}")
            assert answer.status_code == 404
        assert invoice["id"] not in (await other.get("/api/billing/invoices")).text


def test_plans_are_read_from_the_environment_and_checked() -> None:
    env = {"INVIARO_BILLING": "on", "INVIARO_BILLING_PLANS": "standard=1500,business=2900"}
    settings = config.load({**env, "DATABASE_URL": "sqlite:///:memory:"})
    assert settings.billing and settings.billing_plans == (("standard", 1500), ("business", 2900))
    with pytest.raises(config.ConfigError, match="INVIARO_BILLING_PLANS"):
        config.load({"INVIARO_BILLING_PLANS": "standard=cheap", "DATABASE_URL": "sqlite://"})
