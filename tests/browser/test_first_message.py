"""A widget session stores nothing until the visitor writes, in headless Chromium: page
views of a site with the widget (and of the hub's preview page) create no contact and no
conversation; the first message creates exactly one, which reaches the inbox live, and a
reload resumes it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import WidgetSite, open_page, screenshot
from tests.browser.test_inbox_day import signed_in
from tests.browser.test_widget_browser import box, bubbles, launcher, open_widget

pytestmark = pytest.mark.browser


async def stored(site: WidgetSite) -> tuple[list[Any], list[Any]]:
    """The workspace's conversations and contacts, as the operator's API lists them."""
    conversations = (await site.owner.get("/api/conversations")).json()["items"]
    contacts = (await site.owner.get("/api/contacts")).json()["items"]
    return conversations, contacts


async def page_view(browser: Any, url: str) -> Any:
    """One visitor's page view in a browser profile of its own, once its widget is up."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page, watch = await open_page(context, url)
    await expect(launcher(page)).to_be_visible()  # its session was answered
    assert watch.problems() == []
    return context


async def test_three_page_views_create_no_conversation_and_a_first_message_creates_one(
    browser: Any, context: Any, site: WidgetSite
) -> None:
    url = site.page("three-views")
    for _ in range(3):
        await (await page_view(browser, url)).close()
    assert await stored(site) == ([], [])

    await signed_in(context, site.live, site.owner.client)
    inbox, inbox_watch = await open_page(context, f"{site.live.url}/inbox")
    await expect(inbox.locator("#my-status")).to_have_class("dot online")
    page, watch = await open_page(context, url)
    await open_widget(page)
    assert await stored(site) == ([], [])
    await box(page).fill("My first question")
    await box(page).press("Enter")
    await expect(bubbles(page).filter(has_text="My first question")).to_have_attribute(
        "data-state", "sent"
    )
    conversation = await site.conversation_id()
    conversations, contacts = await stored(site)
    assert [c["id"] for c in conversations] == [conversation] and len(contacts) == 1
    # The operator's inbox got the new conversation live, without a reload.
    item = inbox.locator(f'#conversation-list button[data-id="{conversation}"]')
    await expect(item).to_contain_text("My first question")
    await screenshot(inbox, "first-message-inbox")

    await page.reload()  # the visitor token resumes the same conversation
    await open_widget(page)
    await expect(bubbles(page).filter(has_text="My first question")).to_have_count(1)
    await box(page).fill("And a second one")
    await box(page).press("Enter")
    await site.wait_messages(conversation, lambda items: len(items) == 2)
    assert [c["id"] for c in (await stored(site))[0]] == [conversation]
    assert watch.problems() == [] and inbox_watch.problems() == []


async def test_the_preview_page_stores_nothing_until_the_first_message(
    browser: Any, context: Any, site: WidgetSite
) -> None:
    url = f"{site.live.url}/widget/try?key={site.key}"
    await (await page_view(browser, url)).close()
    assert await stored(site) == ([], [])
    page, watch = await open_page(context, url)
    await open_widget(page)
    await box(page).fill("Trying it out")
    await box(page).press("Enter")
    conversation = await site.conversation_id()
    items = await site.wait_messages(conversation, lambda items: len(items) == 1)
    assert items[0]["text"] == "Trying it out"
    assert watch.problems() == []
