"""Notifications in the inbox, in headless Chromium: the browser's permission is asked
once and only from a click; a new conversation, and a colleague's @mention, show a
browser notification, count in the tab title and play a sound (unless turned off); what
is notified follows the operator's preferences, saved on the server from the inbox's
form; and presence stays online while the operator moves between the app's pages.

The page's ``Notification`` is wrapped by an init script that records each one before the
real constructor shows it (a headless browser has no screen to look at).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page, screenshot
from tests.browser.test_inbox_day import signed_in
from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, new_client, signup
from tests.web.realtime import (
    Widget,
    close_all_sockets,
    visitor_session,
    visitor_socket,
    widget_channel,
)

pytestmark = pytest.mark.browser

RECORD = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__notes = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notes.push({ title, body: (options || {}).body || "" });
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as http:
        yield await signup(http, name="Nora Owner")
    await close_all_sockets()


async def visitor_writes(owner: Account, widget: Widget, text: str) -> str:
    """A new visitor's first message; returns its conversation id."""
    session = await visitor_session(owner, widget)
    sock = await visitor_socket(session["ws_url"])
    await sock.send({"type": "send", "ref": 1, "text": text})
    return str((await sock.wait_for(type="ack", ref=1))["message"]["conversation_id"])


async def inbox(context: Any, live: LiveServer, owner: Account) -> tuple[Any, Any]:
    await signed_in(context, live, owner.client)
    page, watch = await open_page(context, f"{live.url}/inbox")
    await expect(page.locator("#my-status")).to_have_class("dot online")
    return page, watch


async def notes(page: Any) -> list[dict[str, str]]:
    return list(await page.evaluate("window.__notes || []"))


async def test_permission_is_asked_once_from_a_click(
    live: LiveServer, owner: Account, context: Any
) -> None:
    page, watch = await inbox(context, live, owner)
    enable = page.get_by_role("button", name="Enable notifications")
    await expect(enable).to_be_visible()
    await enable.click()
    await expect(enable).to_be_hidden()
    await page.reload()
    await expect(page.locator("#my-status")).to_have_class("dot online")
    await expect(page.get_by_role("button", name="Notifications…")).to_be_visible()
    await expect(enable).to_be_hidden()  # asked once: never again from this browser
    assert watch.problems() == []


async def test_a_new_conversation_and_a_mention_notify_and_count_in_the_title(
    live: LiveServer, owner: Account, browser: Any
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        await context.grant_permissions(["notifications"], origin=live.url)
        await context.add_init_script(RECORD)
        page, watch = await inbox(context, live, owner)
        await expect(page.get_by_role("button", name="Enable notifications")).to_be_hidden()
        widget = await widget_channel(owner)
        conv = await visitor_writes(owner, widget, "Is the shop open on Sunday?")
        item = page.locator(f'#conversation-list button[data-id="{conv}"]')
        await expect(item).to_be_visible()
        await expect(page).to_have_title("(1) Inbox · Inviaro")
        assert [n["body"] for n in await notes(page)] == ["Is the shop open on Sunday?"]
        assert (await notes(page))[0]["title"].startswith("New conversation")

        colleague = await add_operator(owner, "agent", live.url)
        try:
            note = await colleague.post(
                f"/api/conversations/{conv}/messages",
                {"text": "@Nora can you take this one?", "private": True},
            )
            assert note.status_code == 201, note.text
        finally:
            await colleague.client.aclose()
        await page.wait_for_function("() => (window.__notes || []).length >= 2")
        mention = (await notes(page))[1]
        assert mention["title"].endswith("mentioned you")
        assert mention["body"] == "@Nora can you take this one?"
        await screenshot(page, "notifications-title-count")

        await item.click()  # read: the title count goes
        await expect(page).to_have_title("Inbox · Inviaro")
        assert watch.problems() == []
    finally:
        await context.close()


async def test_preferences_saved_in_the_inbox_decide_what_is_notified(
    live: LiveServer, owner: Account, browser: Any
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        await context.grant_permissions(["notifications"], origin=live.url)
        await context.add_init_script(RECORD)
        page, watch = await inbox(context, live, owner)
        await page.get_by_role("button", name="Notifications…").click()
        dialog = page.get_by_role("dialog", name="Notify me of")
        new_conversations = dialog.get_by_label("New conversations")
        await expect(new_conversations).to_be_checked()
        await new_conversations.uncheck()
        await dialog.get_by_role("button", name="Save").click()
        await expect(dialog).to_be_hidden()
        saved = (await owner.get("/api/me/notifications")).json()
        assert saved == {
            "new_conversations": False,
            "assigned": True,
            "mentions": True,
            "sound": True,
        }
        await screenshot(page, "notifications-preferences")

        widget = await widget_channel(owner)
        conv = await visitor_writes(owner, widget, "Quiet please")
        await expect(page.locator(f'#conversation-list button[data-id="{conv}"]')).to_be_visible()
        await expect(page).to_have_title("(1) Inbox · Inviaro")  # counted, not notified
        assert await notes(page) == []
        assert watch.problems() == []
    finally:
        await context.close()


async def test_presence_stays_online_while_a_colleague_moves_between_pages(
    live: LiveServer, owner: Account, browser: Any, context: Any
) -> None:
    colleague = await add_operator(owner, "agent", live.url)
    other = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page, watch = await inbox(context, live, owner)
        theirs, their_watch = await inbox(other, live, colleague)
        dot = page.locator(f'#presence .avatar.online[data-operator-id="{colleague.operator_id}"]')
        await expect(dot).to_have_count(1)
        # From here on, note whether the colleague ever shows offline in the owner's inbox.
        await page.evaluate(
            """(id) => {
              window.__sawOffline = false;
              const selector = `#presence .avatar[data-operator-id="${id}"]:not(.online)`;
              new MutationObserver(() => {
                if (document.querySelector(selector)) window.__sawOffline = true;
              }).observe(document.getElementById("presence"),
                         { subtree: true, childList: true, attributes: true });
            }""",
            colleague.operator_id,
        )
        for path in ("/settings", "/flows", "/inbox"):
            await theirs.goto(f"{live.url}{path}")
            await expect(theirs.locator("#my-status")).to_have_class("dot online")
            await expect(dot).to_have_count(1)
        assert await page.evaluate("window.__sawOffline") is False
        assert watch.problems() == [] and their_watch.problems() == []
    finally:
        await other.close()
        await colleague.client.aclose()


# Records each tone the page starts (a headless browser has no speaker to listen to).
TONES = """
(() => {
  window.__tones = [];
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__tones.push(this.frequency.value);
    return start.apply(this, args);
  };
})();
"""


async def test_a_new_conversation_plays_a_sound_unless_it_is_turned_off(
    live: LiveServer, owner: Account, browser: Any
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        await context.add_init_script(TONES)
        page, watch = await inbox(context, live, owner)
        await page.locator("#workspace-name").click()  # a gesture: the page may play sound
        widget = await widget_channel(owner)
        await visitor_writes(owner, widget, "Anyone there?")
        await page.wait_for_function("() => window.__tones.length >= 2")
        assert await page.evaluate("window.__tones") == [880, 1320]

        quiet = await owner.client.put(
            "/api/me/notifications", json={"sound": False}, headers=owner.csrf
        )
        assert quiet.status_code == 200, quiet.text
        await page.reload()
        await expect(page.locator("#my-status")).to_have_class("dot online")
        await page.locator("#workspace-name").click()
        conv = await visitor_writes(owner, widget, "Hello again?")
        await expect(page.locator(f'#conversation-list button[data-id="{conv}"]')).to_be_visible()
        await expect(page).to_have_title("(2) Inbox · Inviaro")  # counted, silently
        assert await page.evaluate("window.__tones") == []
        assert watch.problems() == []
    finally:
        await context.close()
