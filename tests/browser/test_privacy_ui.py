"""The privacy controls in the browser: restriction/objection with its banner, and an
operator downloading their own data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import WidgetSite, open_page
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


PURPOSE = "May we keep this chat to answer you and improve our service?"


async def test_the_widget_asks_consent_before_chatting_and_the_visitor_withdraws_it(
    context: Any, site: WidgetSite
) -> None:
    response = await site.owner.client.put(
        "/api/workspace/consent",
        json={"enabled": True, "text": PURPOSE},
        headers=site.owner.csrf,
    )
    assert response.status_code == 200, response.text
    page, watch = await open_page(context, site.page("consent"))
    await page.get_by_role("button", name="Open chat").click()
    dialog = page.get_by_role("dialog")
    textbox = page.get_by_role("textbox", name="Type your message")
    await expect(dialog.get_by_text(PURPOSE)).to_be_visible()
    await expect(textbox).to_be_hidden()

    await dialog.get_by_role("button", name="I agree").click()
    await expect(textbox).to_be_visible()
    await textbox.fill("Hello after agreeing")
    await textbox.press("Enter")
    conversation = await site.conversation_id()
    await site.wait_messages(conversation, lambda items: len(items) == 1)
    contact_id = (await site.owner.get(f"/api/conversations/{conversation}")).json()["contact"][
        "id"
    ]
    contact = (await site.owner.get(f"/api/contacts/{contact_id}")).json()
    assert (contact["consent"]["granted"], contact["consent"]["version"]) == (True, 1)

    await dialog.get_by_role("button", name="Withdraw my consent").click()
    await expect(textbox).to_be_hidden()
    await expect(dialog.get_by_text(PURPOSE)).to_be_visible()
    contact = (await site.owner.get(f"/api/contacts/{contact_id}")).json()
    assert contact["consent"]["granted"] is False
    export = (await site.owner.get(f"/api/contacts/{contact_id}/export")).json()
    assert [c["granted"] for c in export["consents"]] == [True, False]
    assert watch.errors == []
