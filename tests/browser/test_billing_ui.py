"""Settings → Billing in the browser: an owner fills in the billing details (a bad VAT
identifier is explained), sees the invoice, downloads its PDF and goes to pay it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from storage import billing
from storage.db import make_engine
from tests.browser.conftest import open_page
from tests.conftest import LiveServer, make_settings, start_server
from tests.fake_stripe import ORIGIN, FakeStripe, running_fake_stripe
from tests.helpers import new_client, signup
from tests.web.test_billing import BILLING
from web.api.billing import terms
from web.auth.sessions import cookie_name

pytestmark = pytest.mark.browser


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


async def test_an_owner_sets_billing_details_downloads_and_pays_an_invoice(
    billing_live: LiveServer, context: Any, fake: FakeStripe
) -> None:
    live = billing_live
    async with new_client(live.url) as http:
        owner = await signup(http)
        name = cookie_name(live.settings)
        await context.add_cookies([{"name": name, "value": http.cookies[name], "url": live.url}])
        page, watch = await open_page(context, f"{live.url}/settings?tab=billing")
        await page.get_by_label("Company name").fill("Šumar d.o.o.")
        await page.get_by_label("Address").fill("Titova 1, Sarajevo")
        await page.get_by_label("Country (ISO code)").fill("DE")
        await page.get_by_label("VAT identifier").fill("DE123")
        await page.get_by_label("Plan").select_option("business")
        await page.get_by_label("Seats").fill("2")
        await page.get_by_role("button", name="Save billing details").click()
        await expect(page.locator("#billing-error")).to_have_text(
            "vat_id for DE must be DE followed by 9 digits, such as DE123456789."
        )
        await page.get_by_label("VAT identifier").fill("de 123 456 789")
        await page.get_by_role("button", name="Save billing details").click()
        await expect(page.get_by_label("VAT identifier")).to_have_value("DE123456789")

        engine = make_engine(live.settings.database_url)
        try:
            async with engine.begin() as conn:
                invoice = await billing.issue_invoice(
                    conn, owner.workspace_id, terms(live.settings), "2026-12"
                )
        finally:
            await engine.dispose()
        await page.reload()
        row = page.locator(f'#invoices-body tr[data-invoice-id="{invoice["id"]}"]')
        await expect(row).to_contain_text(invoice["number"])
        await expect(row).to_contain_text("67.86 EUR")  # 2 × 29.00 + 17 % VAT
        async with page.expect_download() as download_info:
            await row.get_by_role("link", name="PDF").click()
        download = await download_info.value
        assert download.suggested_filename == f"{invoice['number']}.pdf"

        await page.route("https://checkout.stripe.com/**", lambda route: route.fulfill(body="ok"))
        await row.get_by_role("button", name="Pay").click()
        await expect(page).to_have_url(re.compile(r"^https://checkout\.stripe\.com/c/pay/cs_test_"))
        # The refused VAT identifier is the one failed request; nothing else went wrong.
        assert [p for p in watch.problems() if "status of 422" not in p] == []
