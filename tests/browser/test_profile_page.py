"""The profile page in Chromium: a picture set there (a too large file is refused with its
sentence) is shown beside the operator's name in a colleague's inbox; notification
preferences are set there too."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.browser.test_inbox_day import inbox, signed_in
from tests.conftest import LiveServer
from tests.helpers import add_operator, new_client, signup
from tests.web.realtime import close_all_sockets, visitor_session, visitor_socket, widget_channel
from tests.web.test_profile_avatar import PNG, upload

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"avatar-{name}.png"), full_page=True)


async def loaded(page: Any, img: Any) -> None:
    """Wait until the browser decoded the picture (a 1x1 PNG)."""
    handle = await img.element_handle()
    await page.wait_for_function("img => img.complete && img.naturalWidth === 1", arg=handle)


async def test_an_operator_sets_a_picture_on_the_profile_page_and_a_too_large_one_is_refused(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http:
        owner = await signup(http, name="Pia Picture")
        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/settings?tab=profile")
        await expect(page.locator("#profile-avatar")).to_have_text("PP")
        big = {"name": "big.png", "mimeType": "image/png", "buffer": PNG + bytes(256 * 1024)}
        await page.locator("#avatar-file").set_input_files(big)
        await expect(page.locator(".toast.error")).to_contain_text("at most 256 KB")
        await expect(page.locator("#profile-avatar")).to_have_text("PP")
        small = {"name": "me.png", "mimeType": "image/png", "buffer": PNG}
        await page.locator("#avatar-file").set_input_files(small)
        picture = page.locator("#profile-avatar img")
        await expect(picture).to_be_visible()
        src = await picture.get_attribute("src")
        assert src is not None and src.startswith(f"/api/operators/{owner.operator_id}/avatar")
        await loaded(page, picture)
        await shot(page, tmp_path, "profile")
        await page.get_by_role("button", name="Remove picture").click()
        await expect(page.locator("#profile-avatar")).to_have_text("PP")
        assert (await http.get("/api/me")).json()["operator"]["avatar_url"] is None
        assert [p for p in watch.problems() if "413" not in p] == []


async def test_a_colleagues_picture_is_shown_beside_their_name_in_the_inbox(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http:
        owner = await signup(http, name="Olivia Owner")
        agent = await add_operator(owner, "agent")
        try:
            assert (await upload(agent, PNG)).status_code == 200
            session = await visitor_session(owner, await widget_channel(owner))
            visitor = await visitor_socket(session["ws_url"])
            await visitor.send({"type": "send", "ref": 1, "text": "Is my parcel on its way?"})
            conv = (await visitor.wait_for(type="ack", ref=1))["message"]["conversation_id"]
            said = await agent.post(f"/api/conversations/{conv}/messages", {"text": "It is."})
            assert said.status_code == 201, said.text
        finally:
            await agent.client.aclose()
        await signed_in(context, live, http)
        page, watch = await inbox(context, live)
        presence = page.locator(f'#presence .avatar[data-operator-id="{agent.operator_id}"] img')
        await expect(presence).to_be_visible()
        await page.locator(f'#conversation-list button[data-id="{conv}"]').click()
        reply = page.locator("#message-list > li.msg.out").filter(has_text="It is.")
        await expect(reply.locator(".author")).to_have_text("Agent Person")
        picture = reply.locator("img.author-avatar")
        await expect(picture).to_be_visible()
        await loaded(page, picture)
        await shot(page, tmp_path, "inbox")
        assert watch.problems() == []
    await close_all_sockets()


async def test_notification_preferences_are_set_on_the_profile_page(
    context: Any, live: LiveServer
) -> None:
    async with new_client(live.url) as http:
        await signup(http)
        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/settings?tab=profile")
        form = page.locator("#profile-notify-form")
        await expect(form.get_by_label("New conversations")).to_be_checked()
        await form.get_by_label("Play a sound").uncheck()
        await form.get_by_label("New conversations").uncheck()
        await form.get_by_role("button", name="Save notifications").click()
        await expect(page.locator(".toast.ok")).to_contain_text("notification preferences")
        assert (await http.get("/api/me/notifications")).json() == {
            "new_conversations": False,
            "assigned": True,
            "mentions": True,
            "sound": False,
        }
        await page.reload()
        await expect(form.get_by_label("Play a sound")).not_to_be_checked()
        assert watch.problems() == []
