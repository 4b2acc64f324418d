"""The widget on a real third-party page, in headless Chromium.

Every test signs up its own workspace and embeds the widget in a host page served from
another origin than the hub, with hostile CSS. Waits are bounded only to fail instead of
hanging; no assertion depends on timing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from playwright.async_api import expect

from hub.fanout import conversation_topic
from tests.browser.conftest import WidgetSite, host_page, next_frame, open_page, screenshot

pytestmark = pytest.mark.browser

XSS = '<b>bold</b><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def launcher(page: Any) -> Any:
    return page.get_by_role("button", name="Open chat")


def panel(page: Any) -> Any:
    return page.get_by_role("dialog")


def box(page: Any) -> Any:
    return page.get_by_role("textbox", name="Type your message")


def bubbles(page: Any) -> Any:
    return page.locator("[data-inviaro-widget] li")


async def open_widget(page: Any) -> None:
    await launcher(page).click()
    await expect(panel(page)).to_be_visible()
    await expect(box(page)).to_be_focused()


async def test_visitor_and_operator_talk_and_reload_continues(
    context: Any, site: WidgetSite
) -> None:
    page, watch = await open_page(context, site.page("talk"))
    await expect(launcher(page)).to_be_visible()
    # The host page keeps its own scripts and styles; the widget keeps its own look.
    assert await page.evaluate("window.hostScriptRan === true")
    assert (
        await page.evaluate("getComputedStyle(document.getElementById('host-button')).display")
        == "none"
    )
    await expect(launcher(page)).to_have_css("background-color", "rgb(170, 0, 85)")
    assert await page.evaluate("Object.keys(window).filter(k => /inviaro/i.test(k))") == ["Inviaro"]

    await open_widget(page)
    await expect(panel(page).get_by_role("heading")).to_have_text("Acme help")

    async with site.operator_socket() as op:
        await box(page).fill("Hello from the visitor")
        await box(page).press("Enter")
        frame = await next_frame(op, lambda f: f["type"] == "message")
        msg = frame["message"]
        assert msg["text"] == "Hello from the visitor"
        assert msg["direction"] == "in" and msg["client_id"]
        conv = msg["conversation_id"]
        mine = bubbles(page).filter(has_text="Hello from the visitor")
        await expect(mine).to_have_attribute("data-state", "sent")

        await op.send(json.dumps({"type": "typing", "conversation_id": conv, "active": True}))
        await expect(page.get_by_text("Ada Owner is typing…")).to_be_visible()

        await site.reply(conv, "Hi! How can I help?")
        reply = bubbles(page).filter(has_text="Hi! How can I help?")
        await expect(reply).to_have_count(1)
        await expect(reply).to_contain_text("Ada Owner")
        await expect(page.get_by_text("Ada Owner is typing…")).to_have_count(0)
        await screenshot(page, "conversation-on-hostile-page")

    # Reload: the same conversation continues, shown once, in order.
    await page.reload()
    await expect(launcher(page)).to_be_visible()
    await expect(bubbles(page)).to_have_count(2)
    await expect(bubbles(page).nth(0)).to_contain_text("Hello from the visitor")
    await expect(bubbles(page).nth(1)).to_contain_text("Hi! How can I help?")

    # Panel closed: an operator message shows as unread on the launcher.
    await site.reply(conv, "Still there?")
    await expect(page.get_by_role("button", name="Open chat, 1 unread")).to_be_visible()
    await screenshot(page, "unread-badge")
    await page.get_by_role("button", name="Open chat, 1 unread").click()
    await expect(launcher(page)).to_have_count(0)  # now labelled "Close chat"
    await box(page).fill("Yes, after a reload")
    await box(page).press("Enter")
    items = await site.wait_messages(conv, lambda ms: len(ms) == 4)
    assert [m["text"] for m in items] == [
        "Hello from the visitor",
        "Hi! How can I help?",
        "Still there?",
        "Yes, after a reload",
    ]
    assert await site.conversation_id() == conv
    assert watch.problems() == []


async def test_offline_messages_queue_and_arrive_once(context: Any, site: WidgetSite) -> None:
    page, watch = await open_page(context, site.page("offline"))
    await open_widget(page)
    await box(page).fill("before going offline")
    await box(page).press("Enter")
    await expect(bubbles(page).filter(has_text="before going offline")).to_have_attribute(
        "data-state", "sent"
    )
    conv = await site.conversation_id()

    await context.set_offline(True)
    await expect(page.get_by_role("status")).to_contain_text("offline")
    await box(page).fill("typed while offline")
    await box(page).press("Enter")
    queued = bubbles(page).filter(has_text="typed while offline")
    await expect(queued).to_have_attribute("data-state", "queued")
    await screenshot(page, "offline-queued")
    stored = await page.evaluate(
        "key => JSON.parse(localStorage.getItem('inviaro:' + key + ':queue'))", site.key
    )
    assert [q["text"] for q in stored] == ["typed while offline"]
    await site.reply(conv, "operator wrote meanwhile")

    await context.set_offline(False)
    items = await site.wait_messages(
        conv, lambda ms: any(m["text"] == "typed while offline" for m in ms)
    )
    await expect(bubbles(page).filter(has_text="operator wrote meanwhile")).to_have_count(1)
    await expect(queued).to_have_attribute("data-state", "sent")
    await expect(bubbles(page)).to_have_count(3)
    texts = [m["text"] for m in await site.messages(conv)]
    assert texts == ["before going offline", "operator wrote meanwhile", "typed while offline"]
    assert [m["text"] for m in items].count("typed while offline") == 1
    assert (
        await page.evaluate(
            "key => JSON.parse(localStorage.getItem('inviaro:' + key + ':queue'))", site.key
        )
        == []
    )
    assert watch.errors == []


async def test_queue_survives_closing_the_tab(context: Any, site: WidgetSite) -> None:
    url = site.page("queue")
    page, _ = await open_page(context, url)
    await open_widget(page)
    await box(page).fill("first")
    await box(page).press("Enter")
    await expect(bubbles(page).filter(has_text="first")).to_have_attribute("data-state", "sent")
    conv = await site.conversation_id()
    await context.set_offline(True)
    await box(page).fill("written, then the tab was closed")
    await box(page).press("Enter")
    await expect(bubbles(page).filter(has_text="the tab was closed")).to_have_attribute(
        "data-state", "queued"
    )
    await page.close()
    await context.set_offline(False)

    page, watch = await open_page(context, url)
    await site.wait_messages(conv, lambda ms: len(ms) == 2)
    await open_widget(page)
    await expect(bubbles(page)).to_have_count(2)
    assert [m["text"] for m in await site.messages(conv)] == [
        "first",
        "written, then the tab was closed",
    ]
    assert watch.errors == []


async def test_lost_ack_resend_is_stored_once(context: Any, site: WidgetSite) -> None:
    """The socket dies after the hub stored a message but before the ack arrived: after
    reconnecting, the widget finds it in the resume replay (by client_id) or resends it with
    the same client_id; either way the hub keeps one copy and the widget shows one."""
    dropped: list[str] = []
    tasks: list[asyncio.Future[None]] = []

    async def route(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_server(message: Any) -> None:
            frame = json.loads(message)
            if frame["type"] == "ack" and not dropped:
                dropped.append(frame["message"]["client_id"])
                tasks.append(asyncio.ensure_future(server.close(code=1012)))
                tasks.append(asyncio.ensure_future(ws.close(code=1012, reason="restarting")))
                return
            ws.send(message)

        server.on_message(from_server)

    await context.route_web_socket("**/ws/widget**", route)
    page, watch = await open_page(context, site.page("lostack"))
    await open_widget(page)
    await box(page).fill("only once please")
    await box(page).press("Enter")
    sent = bubbles(page).filter(has_text="only once please")
    await expect(sent).to_have_attribute("data-state", "sent")
    conv = await site.conversation_id()
    items = await site.messages(conv)
    assert [m["text"] for m in items] == ["only once please"]
    assert dropped == [items[0]["client_id"]]
    await expect(sent).to_have_count(1)
    await asyncio.gather(*tasks)
    assert watch.errors == []


async def test_server_closing_1012_reconnects_and_resumes(context: Any, site: WidgetSite) -> None:
    page, watch = await open_page(context, site.page("restart"))
    await open_widget(page)
    await box(page).fill("one")
    await box(page).press("Enter")
    await expect(bubbles(page).filter(has_text="one")).to_have_attribute("data-state", "sent")
    conv = await site.conversation_id()

    live_hub = site.live.app.state.services.hub  # type: ignore[attr-defined]
    live_hub.registry.close_topic(conversation_topic(site.owner.workspace_id, conv), 1012)
    await site.reply(conv, "sent during the restart")
    await box(page).fill("two")
    await box(page).press("Enter")
    await expect(bubbles(page).filter(has_text="two")).to_have_attribute("data-state", "sent")
    await expect(bubbles(page).filter(has_text="sent during the restart")).to_have_count(1)
    await expect(bubbles(page)).to_have_count(3)
    texts = [m["text"] for m in await site.messages(conv)]
    assert sorted(texts) == sorted(["one", "sent during the restart", "two"])
    assert watch.errors == []


async def test_message_text_is_never_html(context: Any, site: WidgetSite) -> None:
    page, watch = await open_page(context, site.page("xss"))
    await open_widget(page)
    await box(page).fill(XSS)
    await box(page).press("Enter")
    await expect(bubbles(page).first).to_have_attribute("data-state", "sent")
    conv = await site.conversation_id()
    await site.reply(conv, XSS)
    await expect(bubbles(page)).to_have_count(2)
    for i in range(2):
        await expect(bubbles(page).nth(i).locator(".txt")).to_have_text(XSS)
    assert await page.locator("[data-inviaro-widget] img, [data-inviaro-widget] b").count() == 0
    assert await page.evaluate("window.__pwned") is None
    await screenshot(page, "html-as-text")
    assert watch.errors == []


@pytest.mark.parametrize("case", ["wrong_key", "missing_key", "disabled", "origin"])
async def test_refused_widget_stays_hidden_with_one_warning(
    context: Any, site: WidgetSite, case: str
) -> None:
    if case == "wrong_key":
        url = site.host.origin + site.host.add(
            f"/{site.key}/wrong.html", host_page(site.live.url, "pk_no_such_key")
        )
    elif case == "missing_key":
        url = site.host.origin + site.host.add(
            f"/{site.key}/nokey.html", host_page(site.live.url, None)
        )
    elif case == "disabled":
        r = await site.owner.delete(f"/api/channels/{site.channel['id']}")
        assert r.status_code == 204, r.text
        url = site.page("disabled")
    else:
        url = site.host.other_origin + site.host.add(
            f"/{site.key}/other.html", host_page(site.live.url, site.key)
        )
    page = await context.new_page()
    errors: list[str] = []
    console: list[tuple[str, str]] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: console.append((msg.type, msg.text)))
    async with page.expect_console_message(lambda m: "[Inviaro]" in m.text) as warning:
        await page.goto(url)
    message = await warning.value
    assert message.type == "warning"
    assert "not shown" in message.text
    assert [c for c in console if "[Inviaro]" in c[1]] == [("warning", message.text)]
    assert await page.locator("[data-inviaro-widget]").count() == 0
    assert await page.evaluate("window.hostScriptRan === true")
    assert await page.locator("#headline").is_visible()
    assert errors == []


async def test_keyboard_only(context: Any, site: WidgetSite) -> None:
    url = site.page("keyboard", css="body { font-family: serif; }")
    page, watch = await open_page(context, url)
    await expect(launcher(page)).to_be_visible()
    for _ in range(10):  # host link, host button, then the launcher
        await page.keyboard.press("Tab")
        if await launcher(page).evaluate("el => el.matches(':focus')"):
            break
    await expect(launcher(page)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(panel(page)).to_be_visible()
    await expect(box(page)).to_be_focused()
    await page.keyboard.type("line one")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("line two")
    await expect(box(page)).to_have_value("line one\nline two")
    await page.keyboard.press("Enter")
    await expect(box(page)).to_have_value("")
    conv = await site.conversation_id()
    await site.wait_messages(conv, lambda ms: [m["text"] for m in ms] == ["line one\nline two"])
    await page.keyboard.press("Escape")
    await expect(panel(page)).to_be_hidden()
    await expect(launcher(page)).to_be_focused()
    # Labels and a polite live region for screen readers.
    await expect(page.get_by_role("log", include_hidden=True)).to_have_attribute(
        "aria-live", "polite"
    )
    await expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    assert watch.errors == []


async def test_phone_sized_screen(browser: Any, site: WidgetSite) -> None:
    ctx = await browser.new_context(viewport={"width": 360, "height": 640}, has_touch=True)
    try:
        page, watch = await open_page(ctx, site.page("phone"))
        await open_widget(page)
        await screenshot(page, "phone-360x640")
        for target in (panel(page), box(page), page.get_by_role("button", name="Send message")):
            b = await target.bounding_box()
            assert b is not None
            assert b["x"] >= 0 and b["y"] >= 0, b
            assert b["x"] + b["width"] <= 360 and b["y"] + b["height"] <= 640, b
        await page.get_by_role("button", name="Close chat").click()
        await expect(panel(page)).to_be_hidden()
        assert watch.errors == []
    finally:
        await ctx.close()


async def test_refused_message_fails_and_retry_sends_it(context: Any, site: WidgetSite) -> None:
    """sending → failed (with a Retry button) → sent; the retry reuses the client_id."""
    refused: list[str] = []

    async def route(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(message: Any) -> None:
            frame = json.loads(message)
            if frame["type"] == "send" and not refused:
                refused.append(frame["client_id"])
                ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "ref": frame["ref"],
                            "code": "rate_limited",
                            "detail": "too many frames; slow down",
                        }
                    )
                )
                return
            server.send(message)

        ws.on_message(from_page)

    await context.route_web_socket("**/ws/widget**", route)
    page, watch = await open_page(context, site.page("retry"))
    await open_widget(page)
    await box(page).fill("try me")
    await box(page).press("Enter")
    mine = bubbles(page).filter(has_text="try me")
    await expect(mine).to_have_attribute("data-state", "failed")
    await screenshot(page, "failed-with-retry")
    await mine.get_by_role("button", name="Retry sending this message").click()
    await expect(mine).to_have_attribute("data-state", "sent")
    conv = await site.conversation_id()
    items = await site.messages(conv)
    assert [(m["text"], m["client_id"]) for m in items] == [("try me", refused[0])]
    assert watch.problems() == []


async def test_a_flows_choice_shows_as_buttons_and_a_tap_answers(
    context: Any, site: WidgetSite
) -> None:
    steps = {
        "pick": {
            "type": "choose",
            "text": "Sales or support?",
            "save_as": "vars.team",
            "options": [
                {"label": "Sales", "next": "done"},
                {"label": "Support <b>", "next": "done"},
            ],
        },
        "done": {"type": "send", "text": "Noted: {{vars.team}}"},
    }
    flow = (
        await site.owner.post(
            "/api/flows",
            {
                "name": "Menu",
                "trigger": {"on": "conversation_started"},
                "start": "pick",
                "steps": steps,
            },
        )
    ).json()
    assert (await site.owner.post(f"/api/flows/{flow['id']}/publish")).status_code == 200
    page, watch = await open_page(context, site.page("choice"))
    await open_widget(page)
    await box(page).fill("hi")
    await box(page).press("Enter")
    choice = page.get_by_role("group", name="Choose an answer")
    await expect(choice.get_by_role("button")).to_have_count(2)
    await screenshot(page, "flow-choice-buttons")
    await choice.get_by_role("button", name="Support <b>").click()
    await expect(bubbles(page).filter(has_text="Noted: Support <b>")).to_have_count(1)
    await expect(page.get_by_role("group", name="Choose an answer")).to_have_count(0)
    conv = await site.conversation_id()
    # The flow's system lines are private (operators only); the contact's thread is the rest.
    shared = await site.wait_messages(
        conv, lambda ms: len([m for m in ms if not m["private"]]) == 4
    )
    items = [m for m in shared if not m["private"]]
    assert [m["text"] for m in items] == [
        "hi",
        "Sales or support?",
        "Support <b>",
        "Noted: Support <b>",
    ]
    assert items[2]["option"] == "2"
    assert watch.problems() == []
