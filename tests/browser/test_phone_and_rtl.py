"""The inbox at phone width (390 px: one pane at a time, a back button) and right-to-left
text (Arabic, Hebrew) shown in its own direction in the inbox and the widget, in headless
Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import WidgetSite, open_page, screenshot
from tests.browser.test_inbox_day import signed_in
from tests.browser.test_widget_browser import box, bubbles, open_widget
from tests.conftest import LiveServer
from tests.helpers import Account, new_client, signup
from tests.web.realtime import close_all_sockets, visitor_session, visitor_socket, widget_channel

pytestmark = pytest.mark.browser

ARABIC = "مرحبا، أين طلبي رقم 42؟"
HEBREW = "שלום, איפה ההזמנה שלי?"


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as http:
        yield await signup(http, name="Pia Phone")
    await close_all_sockets()


async def visitor_writes(owner: Account, text: str) -> str:
    session = await visitor_session(owner, await widget_channel(owner))
    sock = await visitor_socket(session["ws_url"])
    await sock.send({"type": "send", "ref": 1, "text": text})
    return str((await sock.wait_for(type="ack", ref=1))["message"]["conversation_id"])


async def test_the_inbox_at_390_px_shows_one_pane_at_a_time_with_a_way_back(
    live: LiveServer, owner: Account, browser: Any
) -> None:
    conv = await visitor_writes(owner, "Hello from my phone")
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        await signed_in(context, live, owner.client)
        page, watch = await open_page(context, f"{live.url}/inbox")
        item = page.locator(f'#conversation-list button[data-id="{conv}"]')
        await expect(item).to_be_visible()
        await expect(page.locator(".thread-pane")).to_be_hidden()
        await screenshot(page, "phone-list")
        await item.click()
        await expect(page.locator("#message-list")).to_contain_text("Hello from my phone")
        await expect(page.locator(".list-pane")).to_be_hidden()
        back = page.get_by_role("button", name="Back to conversations")
        await expect(back).to_be_visible()
        await expect(page.locator("#reply")).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing sticks out sideways
        await screenshot(page, "phone-thread")
        await back.click()
        await expect(item).to_be_visible()
        await expect(page.locator(".thread-pane")).to_be_hidden()
        assert watch.problems() == []
    finally:
        await context.close()


async def test_arabic_and_hebrew_read_right_to_left_in_the_inbox(
    live: LiveServer, owner: Account, context: Any
) -> None:
    arabic = await visitor_writes(owner, ARABIC)
    hebrew = await visitor_writes(owner, HEBREW)
    english = await visitor_writes(owner, "Plain English")
    await signed_in(context, live, owner.client)
    page, watch = await open_page(context, f"{live.url}/inbox")
    cases = ((arabic, ARABIC, "rtl"), (hebrew, HEBREW, "rtl"), (english, "Plain English", "ltr"))
    for conv, said, expected in cases:
        item = page.locator(f'#conversation-list button[data-id="{conv}"]')
        await expect(item.locator(".conv-preview")).to_have_css("direction", expected)
        await item.click()
        text = page.locator("#message-list .text", has_text=said)
        await expect(text).to_have_attribute("dir", "auto")
        await expect(text).to_have_css("direction", expected)
    await page.locator(f'#conversation-list button[data-id="{arabic}"]').click()
    await screenshot(page, "rtl-inbox")
    assert watch.problems() == []


async def test_a_right_to_left_reply_reads_right_to_left_in_the_widget(
    context: Any, site: WidgetSite
) -> None:
    page, watch = await open_page(context, site.page("rtl"))
    await open_widget(page)
    await box(page).fill(HEBREW)
    await box(page).press("Enter")
    conversation = await site.conversation_id()
    await site.reply(conversation, ARABIC)
    reply = bubbles(page).filter(has_text=ARABIC).locator(".txt")
    await expect(reply).to_have_count(1)
    await expect(reply).to_have_css("direction", "rtl")
    mine = bubbles(page).filter(has_text=HEBREW).locator(".txt")
    await expect(mine).to_have_css("direction", "rtl")
    await screenshot(page, "rtl-widget")
    assert watch.problems() == []
