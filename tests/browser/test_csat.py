"""CSAT in headless Chromium: an operator resolves, the widget visitor rates with a
button, and the Reports page shows the rating for that operator; a manager switches
rating requests off in Settings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import WidgetSite, open_page, screenshot
from tests.browser.test_inbox_day import signed_in
from tests.browser.test_widget_browser import box, bubbles, open_widget
from tests.conftest import LiveServer
from tests.helpers import new_client, signup

pytestmark = pytest.mark.browser


async def test_a_widget_visitor_rates_with_a_button_and_the_report_shows_it(
    browser: Any, context: Any, site: WidgetSite
) -> None:
    visitor_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page, watch = await open_page(visitor_context, site.page("csat"))
        await open_widget(page)
        await box(page).fill("Do you deliver on Saturdays?")
        await box(page).press("Enter")
        conversation = await site.conversation_id()
        await site.reply(conversation, "Yes, until noon.")
        resolved = await site.owner.patch(
            f"/api/conversations/{conversation}",
            {"status": "resolved", "assignee_id": site.owner.operator_id},
        )
        assert resolved.status_code == 200, resolved.text
        buttons = page.get_by_role("group", name="Choose an answer").get_by_role("button")
        await expect(buttons).to_have_text(["1 Poor", "2", "3", "4", "5 Great"])
        await screenshot(page, "csat-widget-survey")
        await buttons.nth(3).click()
        await expect(bubbles(page).filter(has_text="4")).to_have_attribute("data-state", "sent")
        await expect(buttons).to_have_count(0)
        assert watch.problems() == []
    finally:
        await visitor_context.close()

    for _ in range(200):  # the rating is recorded just after its message: wait for it
        overall = (await site.owner.get("/api/reports/csat")).json()["overall"]
        if overall["responses"]:
            break
        await asyncio.sleep(0.05)
    await signed_in(context, site.live, site.owner.client)
    report, report_watch = await open_page(context, f"{site.live.url}/reports")
    row = report.locator(f'#csat-operators tr[data-id="{site.owner.operator_id}"]')
    await expect(row.locator(".csat-average")).to_have_text("4")
    await expect(report.locator("#csat-overall")).to_contain_text("Average 4 out of 5")
    await screenshot(report, "csat-report")
    status = (await site.owner.get(f"/api/conversations/{conversation}")).json()["status"]
    assert status == "resolved"
    assert report_watch.problems() == []


async def test_a_manager_switches_rating_requests_off_in_settings(
    context: Any, live: LiveServer
) -> None:
    async with new_client(live.url) as http:
        await signup(http)
        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/settings?tab=workspace")
        switch = page.locator("#workspace-form").get_by_label("Ask customers to rate")
        await expect(switch).to_be_checked()
        await switch.uncheck()
        await page.locator("#workspace-form").get_by_role("button", name="Save workspace").click()
        await expect(page.locator(".toast.ok")).to_contain_text("Workspace saved.")
        assert (await http.get("/api/workspace")).json()["csat_enabled"] is False
        await page.reload()
        await expect(switch).not_to_be_checked()
        await screenshot(page, "csat-switch-off")
        assert watch.problems() == []
