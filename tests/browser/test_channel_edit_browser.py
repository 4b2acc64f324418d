"""Editing a channel from Settings in Chromium: the name and widget title change, the widget
key and snippet stay; a Viber channel is registered again and Viber's refusal is shown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.conftest import LiveServer, make_settings, start_server
from tests.fake_viber import FakeViber
from tests.helpers import new_client, signup
from web.auth.sessions import cookie_name

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"channel-edit-{name}.png"), full_page=True)


async def signed_in(context: Any, live: LiveServer, client: Any) -> None:
    name = cookie_name(live.settings)
    await context.add_cookies([{"name": name, "value": client.cookies[name], "url": live.url}])


async def test_editing_a_widget_keeps_its_key_and_snippet(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http:
        owner = await signup(http)
        config = {"allowed_origins": ["https://shop.example"], "title": "Old title"}
        made = await owner.post(
            "/api/channels", {"kind": "widget", "name": "Site", "config": config}
        )
        channel = made.json()
        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/settings?tab=channels")
        card = page.locator(f'article[data-channel-id="{channel["id"]}"]')
        await card.get_by_role("button", name="Edit").click()
        form = card.locator("form.channel-edit")
        await form.get_by_label("Name").fill("Shop chat")
        await form.get_by_label("Title shown in the widget").fill("Ask us anything")
        await form.get_by_label("Websites allowed").fill(
            "https://shop.example\nhttps://blog.example"
        )
        await shot(page, tmp_path, "form")
        await form.get_by_role("button", name="Save").click()
        card = page.locator(f'article[data-channel-id="{channel["id"]}"]')
        await expect(card.locator("header strong")).to_have_text("Shop chat")
        await expect(card.locator(".guide code").first).to_contain_text(channel["public_key"])
        await expect(card).to_contain_text("https://blog.example")
        await shot(page, tmp_path, "saved")
        assert watch.problems() == []
        stored = (await owner.get(f"/api/channels/{channel['id']}")).json()
        assert stored["public_key"] == channel["public_key"]
        assert stored["config"]["title"] == "Ask us anything"


async def test_a_viber_channel_is_registered_again_and_shows_vibers_reason(
    context: Any, db_url: str, tmp_path: Path
) -> None:
    viber = FakeViber()
    async with viber.serving():
        live, server, task = await start_server(
            make_settings(db_url, provider_origins=viber.origins)
        )
        try:
            async with new_client(live.url) as http:
                owner = await signup(http)
                viber.refuse(2, "invalid auth token")
                made = await owner.post(
                    "/api/channels", {"kind": "viber", "config": {"auth_token": "t" * 20}}
                )
                channel = made.json()
                await signed_in(context, live, http)
                page, _ = await open_page(context, f"{live.url}/settings?tab=channels")
                card = page.locator(f'article[data-channel-id="{channel["id"]}"]')
                again = card.get_by_role("button", name="Register webhook with Viber again")
                await again.click()
                await expect(card.locator(".webhook-status")).to_contain_text("invalid auth token")
                await shot(page, tmp_path, "viber-refused")
                viber.accept()
                await again.click()
                await expect(card.locator(".webhook-status")).to_have_text(
                    "Viber accepted the webhook."
                )
                await expect(card.locator(".guide code").first).to_have_text(channel["webhook_url"])
        finally:
            server.should_exit = True
            await task
