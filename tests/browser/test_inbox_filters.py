"""The inbox list filters by channel, team and tag ("More filters"), combined with each
other and with the search, in Chromium."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_inbox_day import inbox, signed_in
from tests.conftest import LiveServer
from tests.helpers import Account, new_client, signup
from tests.web.realtime import (
    Widget,
    close_all_sockets,
    started_visitor,
    widget_channel,
)

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"filters-{name}.png"))


async def wrote(owner: Account, widget: Widget, text: str) -> str:
    return str((await started_visitor(owner, widget, text))["conversation_id"])


async def test_the_list_filters_by_channel_team_and_tag_together_and_with_search(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    marker = "w" + uuid.uuid4().hex[:10]
    async with new_client(live.url) as http:
        owner = await signup(http)
        shop, support = await widget_channel(owner), await widget_channel(owner)
        team = (await owner.post("/api/teams", {"name": "Returns", "operator_ids": []})).json()
        a = await wrote(owner, shop, f"{marker} on the shop")
        b = await wrote(owner, support, f"{marker} on support")
        c = await wrote(owner, support, "something else on support")
        await owner.patch(f"/api/conversations/{b}", {"team_id": team["id"], "tags": ["vip"]})
        await owner.patch(f"/api/conversations/{c}", {"tags": ["vip"]})
        await signed_in(context, live, http)
        page, watch = await inbox(context, live)

        def item(conv: str) -> Any:
            return page.locator(f'#conversation-list button[data-id="{conv}"]')

        listed = page.locator("#conversation-list button[data-id]")
        await expect(listed).to_have_count(3)
        await page.get_by_text("More filters").click()
        filters = page.locator(".more-filters")
        await filters.get_by_label("Channel").select_option(support.channel_id)
        await expect(listed).to_have_count(2)
        await expect(item(a)).to_have_count(0)
        await filters.get_by_label("Tag").fill("vip")
        await expect(listed).to_have_count(2)
        await filters.get_by_label("Team").select_option(team["id"])
        await expect(listed).to_have_count(1)
        await expect(item(b)).to_be_visible()
        await shot(page, tmp_path, "team-and-tag")

        await filters.get_by_label("Team").select_option("")
        await page.locator("#search").fill(marker)
        await expect(listed).to_have_count(1)
        await expect(item(b)).to_be_visible()
        await filters.get_by_label("Channel").select_option("")
        await filters.get_by_label("Tag").fill("")
        await expect(listed).to_have_count(2)
        await expect(item(c)).to_have_count(0)
        assert watch.problems() == []
    await close_all_sockets()
