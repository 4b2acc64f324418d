"""The inbox for a working day, in headless Chromium: the true state of a reply (a failed
WhatsApp send shows "Failed" with the provider's reason, and Retry sends it; a throttled one
says it is retrying and why), private notes,
search and canned responses.

WhatsApp is a fake Graph API on loopback, reached through ``INVIARO_PROVIDER_ORIGINS``
(``settings.provider_origins``); the server runs its worker in-process. Screenshots go to
``INVIARO_SCREENSHOTS`` when set (``artifacts/``, ignored by git), else the test's tmp dir.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests import loopback
from tests.browser.conftest import open_page
from tests.conftest import LiveServer, free_port
from tests.web.realtime import close_all_sockets, visitor_session, visitor_socket, widget_channel
from tests.web.webhook_hub import Hub, hub_server, post_meta, unique, wa_message
from web.auth.sessions import cookie_name

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"inbox-day-{name}.png"))


class FakeGraph:
    """WhatsApp's ``/{phone_number_id}/messages`` on loopback; answers what ``answer`` says."""

    def __init__(self) -> None:
        self.port = free_port()
        self.texts: list[str] = []
        self.answer: tuple[int, dict[str, Any]] = (200, {})
        self.app = Starlette(routes=[Route("/v21.0/{phone}/messages", self.send, methods=["POST"])])

    def fail_with(self, status: int, code: int, message: str) -> None:
        self.answer = (status, {"error": {"code": code, "message": message}})

    def accept(self) -> None:
        self.answer = (200, {})

    async def send(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.texts.append(body.get("text", {}).get("body", ""))
        status, answer = self.answer
        if status == 200:
            answer = {"messages": [{"id": f"wamid.{uuid.uuid4().hex}"}]}
        return JSONResponse(answer, status_code=status)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[FakeGraph]:
        async with loopback.serving(self.app, self.port):
            yield self


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph().serving() as fake:
        yield fake


@pytest.fixture
async def whatsapp_hub(db_url: str, graph: FakeGraph) -> AsyncIterator[Hub]:
    origins = (("https://graph.facebook.com", f"http://127.0.0.1:{graph.port}"),)
    async with hub_server(db_url, run_worker=True, provider_origins=origins) as hub:
        yield hub


async def signed_in(context: Any, live: LiveServer, client: Any) -> None:
    name = cookie_name(live.settings)
    await context.add_cookies([{"name": name, "value": client.cookies[name], "url": live.url}])


async def inbox(context: Any, live: LiveServer) -> tuple[Any, Any]:
    page, watch = await open_page(context, f"{live.url}/inbox")
    await expect(page.locator("#my-status")).to_have_class("dot online")
    return page, watch


async def test_a_failed_whatsapp_send_shows_the_reason_and_retry_sends_it(
    whatsapp_hub: Hub, graph: FakeGraph, context: Any, tmp_path: Path
) -> None:
    hub = whatsapp_hub
    channel = await hub.channel("whatsapp", phone_number_id=unique("10"))
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=unique("4917"))
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    await signed_in(context, hub.live, hub.owner.client)
    page, watch = await inbox(context, hub.live)
    item = page.locator(f'#conversation-list button[data-id="{inbound.conversation_id}"]')
    await item.click()

    graph.fail_with(401, 190, "Error validating access token: Session has expired")
    await page.locator("#reply").fill("Your parcel left the warehouse.")
    await page.locator("#reply").press("Enter")
    reply = page.locator("#message-list > li.out")
    await expect(reply.locator(".status")).to_have_text("Failed")
    await expect(reply.locator(".delivery-note")).to_have_text(
        "Access token expired or revoked; update the channel with a new one."
    )
    await expect(item.locator(".pill.send-failed")).to_have_text("Failed")
    await shot(page, tmp_path, "failed-send")

    graph.accept()
    await reply.get_by_role("button", name="Retry").click()
    await expect(reply.locator(".status")).to_have_text("Sent")
    await expect(reply.locator(".delivery-note")).to_be_hidden()
    await expect(reply.get_by_role("button", name="Retry")).to_have_count(0)
    await expect(item.locator(".pill.send-failed")).to_have_count(0)
    assert graph.texts == ["Your parcel left the warehouse."] * 2
    await shot(page, tmp_path, "retried-send")
    assert watch.problems() == []


async def test_a_throttled_whatsapp_send_says_it_is_retrying_and_why(
    whatsapp_hub: Hub, graph: FakeGraph, context: Any, tmp_path: Path
) -> None:
    hub = whatsapp_hub
    channel = await hub.channel("whatsapp", phone_number_id=unique("10"))
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=unique("4917"))
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    await signed_in(context, hub.live, hub.owner.client)
    page, watch = await inbox(context, hub.live)
    item = page.locator(f'#conversation-list button[data-id="{inbound.conversation_id}"]')
    await item.click()

    graph.fail_with(429, 130429, "Rate limit hit")
    await page.locator("#reply").fill("We are on it.")
    await page.locator("#reply").press("Enter")
    reply = page.locator("#message-list > li.out")
    await expect(reply.locator(".status")).to_have_text("Retrying")
    note = reply.locator(".delivery-note")
    await expect(note).to_contain_text("Attempt 1 failed: WhatsApp's throughput limit")
    await expect(note).to_contain_text("Next attempt")
    await expect(item.locator(".pill.send-retrying")).to_have_text("Retrying")
    await expect(reply.get_by_role("button", name="Retry")).to_have_count(0)
    await shot(page, tmp_path, "retrying-send")
    assert watch.problems() == []


async def test_a_private_note_is_styled_apart_and_never_reaches_the_visitor(
    live: LiveServer, context: Any, tmp_path: Path
) -> None:
    from tests.helpers import new_client, signup

    async with new_client(live.url) as http:
        owner = await signup(http, name="Olivia Owner")
        widget = await widget_channel(owner)
        session = await visitor_session(owner, widget)
        visitor = await visitor_socket(session["ws_url"])
        await visitor.send({"type": "send", "ref": 1, "text": "Where is my order?"})
        conv = (await visitor.wait_for(type="ack", ref=1))["message"]["conversation_id"]
        await signed_in(context, live, http)
        page, watch = await inbox(context, live)
        await page.locator(f'#conversation-list button[data-id="{conv}"]').click()

        await page.get_by_label("Private note").check()
        await expect(page.locator("#send")).to_have_text("Add note")
        await page.locator("#reply").fill("Customer is a VIP, ship express")
        await page.locator("#reply").press("Enter")
        note = page.locator("#message-list > li.note")
        await expect(note.locator(".note-label")).to_have_text("Private note")
        await expect(note.locator(".status")).to_have_text("Sent")
        await shot(page, tmp_path, "private-note")

        await page.get_by_label("Private note").uncheck()
        await page.locator("#reply").fill("It ships today.")
        await page.locator("#reply").press("Enter")
        frame = await visitor.wait_for(type="message")
        while frame["message"]["direction"] != "out":
            frame = await visitor.wait_for(type="message")
        assert frame["message"]["text"] == "It ships today."
        texts = [f.get("message", {}).get("text") for f in visitor.frames]
        assert "Customer is a VIP, ship express" not in texts
        assert watch.problems() == []
    await close_all_sockets()


async def test_search_finds_a_message_by_a_word(
    live: LiveServer, context: Any, tmp_path: Path
) -> None:
    from tests.helpers import new_client, signup

    marker = "parcel" + uuid.uuid4().hex[:6]
    async with new_client(live.url) as http:
        owner = await signup(http, name="Olivia Owner")
        widget = await widget_channel(owner)
        convs = []
        for text in (f"my {marker} is late", "do you ship to Norway?"):
            session = await visitor_session(owner, widget)
            sock = await visitor_socket(session["ws_url"])
            await sock.send({"type": "send", "ref": 1, "text": text})
            convs.append((await sock.wait_for(type="ack", ref=1))["message"]["conversation_id"])
        await signed_in(context, live, http)
        page, watch = await inbox(context, live)
        items = page.locator("#conversation-list button")
        await expect(items).to_have_count(2)

        await page.locator("body").press("/")
        await expect(page.locator("#search")).to_be_focused()
        await page.keyboard.type(marker)
        await expect(items).to_have_count(1)
        await expect(items.first).to_have_attribute("data-id", convs[0])
        await shot(page, tmp_path, "search")

        await page.keyboard.press("Escape")
        await expect(items).to_have_count(2)
        await page.keyboard.press("Control+k")
        await expect(page.locator("#search")).to_be_focused()
        await page.keyboard.type("nothing-like-this-anywhere")
        await expect(page.locator("#search-empty")).to_be_visible()
        await expect(items).to_have_count(0)
        assert watch.problems() == []
    await close_all_sockets()


async def test_a_canned_response_is_inserted_with_slash(
    live: LiveServer, context: Any, tmp_path: Path
) -> None:
    from tests.helpers import new_client, signup

    async with new_client(live.url) as http:
        owner = await signup(http, name="Olivia Owner")
        made = await owner.post(
            "/api/canned-responses",
            {
                "shortcut": "thanks",
                "text": (
                    "Thanks {{contact.name}}! {{contact.email}}{{vars.unknown}}— {{operator.name}}"
                ),
            },
        )
        assert made.status_code == 201, made.text
        await owner.post("/api/canned-responses", {"shortcut": "hours", "text": "9 to 5"})
        widget = await widget_channel(owner)
        session = await visitor_session(owner, widget)
        visitor = await visitor_socket(session["ws_url"])
        await visitor.send({"type": "send", "ref": 1, "text": "You helped a lot"})
        conv = (await visitor.wait_for(type="ack", ref=1))["message"]["conversation_id"]
        contact_id = (await owner.get(f"/api/conversations/{conv}")).json()["contact"]["id"]
        await owner.patch(f"/api/contacts/{contact_id}", {"name": "<b>Maria</b>"})
        await signed_in(context, live, http)
        page, watch = await inbox(context, live)
        await page.locator(f'#conversation-list button[data-id="{conv}"]').click()

        reply = page.locator("#reply")
        await reply.press_sequentially("/th")
        menu = page.locator("#canned-menu")
        await expect(menu.locator("li")).to_have_count(1)
        await expect(menu.locator("li.active")).to_contain_text("/thanks")
        await shot(page, tmp_path, "canned-menu")
        await reply.press("Enter")
        await expect(menu).to_be_hidden()
        await expect(reply).to_have_value("Thanks <b>Maria</b>! — Olivia Owner")
        await reply.press("Enter")  # now Enter sends it
        frame = await visitor.wait_for(type="message")
        while frame["message"]["direction"] != "out":
            frame = await visitor.wait_for(type="message")
        assert frame["message"]["text"] == "Thanks <b>Maria</b>! — Olivia Owner"
        await expect(page.locator("#message-list > li.out .text")).to_have_text(
            "Thanks <b>Maria</b>! — Olivia Owner"
        )
        assert watch.problems() == []
    await close_all_sockets()


async def test_snooze_for_an_hour_from_the_thread(
    live: LiveServer, context: Any, tmp_path: Path
) -> None:
    from tests.helpers import new_client, signup

    async with new_client(live.url) as http:
        owner = await signup(http, name="Olivia Owner")
        widget = await widget_channel(owner)
        session = await visitor_session(owner, widget)
        visitor = await visitor_socket(session["ws_url"])
        await visitor.send({"type": "send", "ref": 1, "text": "Call me back later"})
        conv = (await visitor.wait_for(type="ack", ref=1))["message"]["conversation_id"]
        await signed_in(context, live, http)
        page, watch = await inbox(context, live)
        item = page.locator(f'#conversation-list button[data-id="{conv}"]')
        await item.click()
        await page.get_by_label("Snooze").select_option("1h")
        await expect(item.locator(".pill.snoozed")).to_contain_text("Snoozed until")
        await expect(item.locator(".pill.status-pending")).to_have_text("pending")
        shown = (await owner.get(f"/api/conversations/{conv}")).json()
        assert shown["status"] == "pending" and shown["snoozed_until"]
        await page.get_by_label("Snooze").select_option("off")
        await expect(item.locator(".pill.snoozed")).to_have_count(0)
        assert watch.problems() == []
    await close_all_sockets()
