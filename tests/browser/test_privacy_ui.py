"""The privacy controls in the browser: restriction/objection with its banner, and an
operator downloading their own data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.browser.test_inbox import Desk, conv_item, desk

pytestmark = pytest.mark.browser
__all__ = ["desk"]  # the fixture, shared with the inbox tests


async def test_an_objection_is_chosen_in_the_panel_and_bannered_above_the_thread(
    desk: Desk,
) -> None:
    _, objected = await desk.visitor("Stop writing to me")
    _, other = await desk.visitor("Hello")
    page, watch = await desk.inbox(f"#{objected}")
    banner = page.locator("#processing-banner")
    await expect(page.locator("#contact-identities li")).to_have_count(1)  # the panel loaded
    await expect(banner).to_be_hidden()
    await page.get_by_label("Processing").select_option("objected")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("objected")
    contact_id = (await desk.owner.get(f"/api/conversations/{objected}")).json()["contact"]["id"]
    assert (await desk.owner.get(f"/api/contacts/{contact_id}")).json()["processing"] == "objected"
    await conv_item(page, other).click()
    await expect(banner).to_be_hidden()
    await conv_item(page, objected).click()
    await expect(banner).to_be_visible()
    await page.get_by_label("Processing").select_option("restricted")
    await expect(banner).to_contain_text("restricted")
    assert watch.errors == []


async def test_an_operator_downloads_their_data_from_the_profile(desk: Desk) -> None:
    page, watch = await open_page(desk.context, f"{desk.live.url}/settings?tab=profile")
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download my data").click()
    document = json.loads(Path(await (await download_info.value).path()).read_text())
    assert document["operator"]["id"] == desk.owner.operator_id
    assert "password_hash" not in json.dumps(document)
    assert watch.errors == []
