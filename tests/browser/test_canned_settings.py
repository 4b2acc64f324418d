"""Canned responses are written in Settings, in Chromium: an owner adds a shared one and
edits it, an agent may add only personal ones, and what was written there is inserted with
``/`` in the inbox's reply box."""

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

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"canned-{name}.png"), full_page=True)


async def add(page: Any, shortcut: str, text: str, who: str | None = None) -> None:
    form = page.locator("#canned-form")
    await form.get_by_label("Shortcut").fill(shortcut)
    await form.get_by_label("Text").fill(text)
    if who is not None:
        await form.get_by_label("Who sees it").select_option(label=who)
    await form.get_by_role("button", name="Add canned response").click()
    await expect(page.locator(f'#canned-body tr[data-shortcut="{shortcut}"]')).to_be_visible()


async def test_an_owner_writes_a_shared_response_in_settings_and_inserts_it_in_the_inbox(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http:
        owner = await signup(http, name="Olivia Owner")
        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/settings?tab=canned")
        await expect(page.locator("#canned-empty")).to_be_visible()
        await add(page, "bye", "Bye {{contact.name}}!", "Everyone in the workspace")
        row = page.locator('#canned-body tr[data-shortcut="bye"]')
        await expect(row).to_contain_text("Everyone")
        edited = "Goodbye {{contact.name}}, from {{operator.name}}."
        await row.get_by_label("Text of /bye").fill(edited)
        await row.get_by_role("button", name="Save").click()
        await expect(page.locator(".toast.ok").last).to_contain_text("/bye saved.")
        [saved] = (await owner.get("/api/canned-responses")).json()["items"]
        assert (saved["text"], saved["personal"]) == (edited, False)
        await add(page, "gone", "soon deleted", "Only me")
        gone = page.locator('#canned-body tr[data-shortcut="gone"]')
        await gone.get_by_role("button", name="Delete").click()
        await expect(gone).to_have_count(0)
        await shot(page, tmp_path, "settings")
        assert watch.problems() == []

        widget = await widget_channel(owner)
        session = await visitor_session(owner, widget)
        visitor = await visitor_socket(session["ws_url"])
        await visitor.send({"type": "send", "ref": 1, "text": "That's all, thanks"})
        conv = (await visitor.wait_for(type="ack", ref=1))["message"]["conversation_id"]
        contact_id = (await owner.get(f"/api/conversations/{conv}")).json()["contact"]["id"]
        await owner.patch(f"/api/contacts/{contact_id}", {"name": "Maria"})
        thread, thread_watch = await inbox(context, live)
        await thread.locator(f'#conversation-list button[data-id="{conv}"]').click()
        reply = thread.locator("#reply")
        await reply.press_sequentially("/by")
        await expect(thread.locator("#canned-menu li.active")).to_contain_text("/bye")
        await reply.press("Enter")
        await expect(reply).to_have_value("Goodbye Maria, from Olivia Owner.")
        assert thread_watch.problems() == []
    await close_all_sockets()


async def test_an_agent_adds_only_personal_responses_and_cannot_change_shared_ones(
    context: Any, live: LiveServer
) -> None:
    async with new_client(live.url) as http:
        owner = await signup(http)
        shared = await owner.post("/api/canned-responses", {"shortcut": "hours", "text": "9-5"})
        assert shared.status_code == 201, shared.text
        agent = await add_operator(owner, "agent")
        try:
            await signed_in(context, live, agent.client)
            page, watch = await open_page(context, f"{live.url}/settings?tab=canned")
            hours = page.locator('#canned-body tr[data-shortcut="hours"]')
            await expect(hours.get_by_role("button", name="Delete")).to_be_disabled()
            await expect(page.locator("#canned-form").get_by_label("Who sees it")).to_be_disabled()
            await add(page, "mine", "My own words")
            await expect(page.locator('#canned-body tr[data-shortcut="mine"]')).to_contain_text(
                "Only me"
            )
            made = {
                i["shortcut"]: i for i in (await agent.get("/api/canned-responses")).json()["items"]
            }
            assert made["mine"]["personal"] is True
            assert watch.problems() == []
        finally:
            await agent.client.aclose()
