"""The hub's own preview page lets an operator try a widget channel with no website."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import WidgetSite, open_page
from tests.browser.test_widget_browser import box, open_widget

pytestmark = pytest.mark.browser


async def test_the_preview_page_carries_a_visitor_message_into_the_inbox(
    context: Any, site: WidgetSite
) -> None:
    page, watch = await open_page(context, f"{site.live.url}/widget/try?key={site.key}")
    await open_widget(page)
    await box(page).fill("Trying the widget")
    await box(page).press("Enter")
    conversation = await site.conversation_id()
    items = await site.wait_messages(conversation, lambda items: len(items) == 1)
    assert items[0]["text"] == "Trying the widget"
    assert watch.problems() == []


async def test_the_preview_page_takes_only_a_key_shaped_value(site: WidgetSite) -> None:
    response = await site.owner.client.get('/widget/try?key="><script>alert(1)</script>')
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert "'unsafe-inline'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
