"""Attachments in headless Chromium: a visitor's file from the widget reaches the operator,
who sees its thumbnail; an operator's file (attach button) reaches WhatsApp through its
media API (a fake Graph API on loopback receives the upload, then the send by id); images
pasted into and files dropped on the inbox's reply box are sent with the reply; a file dropped on
the widget's conversation is sent; a channel's image becomes a thumbnail once copied."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests import loopback
from tests.browser.conftest import WidgetSite, open_page, screenshot
from tests.browser.test_inbox_day import inbox, signed_in
from tests.browser.test_widget_browser import open_widget
from tests.conftest import free_port
from tests.web.test_media_inbound import JPEG, serving
from tests.web.test_media_types import png
from tests.web.test_webhooks import Hub, hub_server, payload, post_meta, unique, wa_message
from web import media_inbound

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class FakeGraph:
    """WhatsApp's ``/{phone}/media`` and ``/{phone}/messages`` on loopback; keeps what came."""

    def __init__(self) -> None:
        self.port = free_port()
        self.uploads: list[dict[str, Any]] = []
        self.sends: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/v21.0/{phone}/media", self.media, methods=["POST"]),
                Route("/v21.0/{phone}/messages", self.send, methods=["POST"]),
            ]
        )

    async def media(self, request: Request) -> JSONResponse:
        """The multipart form, read with the standard library's MIME parser."""
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        form = BytesParser(policy=HTTP).parsebytes(head + await request.body())
        fields: dict[str, Any] = {}
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                fields["filename"] = part.get_filename()
                fields["content"] = part.get_payload(decode=True)
            else:
                fields[str(name)] = part.get_content().strip()
        self.uploads.append(fields)
        return JSONResponse({"id": f"media-{len(self.uploads)}"})

    async def send(self, request: Request) -> JSONResponse:
        self.sends.append(await request.json())
        return JSONResponse({"messages": [{"id": f"wamid.{uuid.uuid4().hex}"}]})

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


async def loaded(image: Any) -> bool:
    """Whether an <img> has decoded a picture (its redirects and signed link worked)."""
    return bool(await image.evaluate("(img) => img.complete && img.naturalWidth > 0"))


async def wait_until(check: Any) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met")


async def test_a_file_from_the_widget_reaches_the_operator_as_a_thumbnail(
    context: Any, site: WidgetSite, tmp_path: Path
) -> None:
    photo = tmp_path / "receipt.png"
    photo.write_bytes(png(800, 600))
    page, watch = await open_page(context, site.page("attach"))
    await open_widget(page)
    await page.locator("[data-inviaro-widget] input[type=file]").set_input_files(str(photo))
    visitor_file = page.locator("[data-inviaro-widget] li a.file img")
    await expect(visitor_file).to_be_visible()
    await wait_until(lambda: loaded(visitor_file))
    conversation = await site.conversation_id()
    [message] = await site.wait_messages(conversation, lambda items: len(items) == 1)
    [attachment] = message["attachments"]
    assert (attachment["name"], attachment["mime"]) == ("receipt.png", "image/png")
    await screenshot(page, "attachments-widget")

    await signed_in(context, site.live, site.owner.client)
    inbox_page, inbox_watch = await open_page(context, f"{site.live.url}/inbox")
    await inbox_page.locator(f'#conversation-list button[data-id="{conversation}"]').click()
    thumbnail = inbox_page.locator("#message-list li.in img.preview")
    await expect(thumbnail).to_be_visible()
    await wait_until(lambda: loaded(thumbnail))
    assert await thumbnail.evaluate("(img) => img.naturalWidth") == 320  # the thumbnail
    await screenshot(inbox_page, "attachments-inbox-thumbnail")
    assert watch.problems() == [] and inbox_watch.problems() == []


async def test_an_operators_file_reaches_whatsapp_by_upload_and_media_id(
    whatsapp_hub: Hub, graph: FakeGraph, context: Any, tmp_path: Path
) -> None:
    hub = whatsapp_hub
    channel = await hub.channel("whatsapp", phone_number_id=unique("10"))
    sender = unique("4917")
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    offer = tmp_path / "Offer 2027.pdf"
    offer.write_bytes(PDF)
    await signed_in(context, hub.live, hub.owner.client)
    page, watch = await inbox(context, hub.live)
    await page.locator(f'#conversation-list button[data-id="{inbound.conversation_id}"]').click()
    await page.locator("#reply-file").set_input_files(str(offer))
    chip = page.locator("#reply-files .file-chip.ready")
    await expect(chip).to_contain_text("Offer 2027.pdf")
    await page.locator("#reply").fill("Here is our offer")
    await page.locator("#reply").press("Enter")
    reply = page.locator("#message-list > li.out")
    await expect(reply.locator(".status")).to_have_text("Sent")
    await expect(reply.locator("a.file-chip")).to_contain_text("Offer 2027.pdf")
    await expect(page.locator("#reply-files")).to_be_hidden()
    [uploaded] = graph.uploads
    assert uploaded == {
        "messaging_product": "whatsapp",
        "type": "application/pdf",
        "filename": "Offer 2027.pdf",
        "content": PDF,
    }
    [sent] = graph.sends
    assert sent["to"] == sender and sent["type"] == "document"
    assert sent["document"] == {
        "id": "media-1",
        "filename": "Offer 2027.pdf",
        "caption": "Here is our offer",
    }
    await screenshot(page, "attachments-whatsapp-sent")
    assert watch.problems() == []


PASTE = """([name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const files = new DataTransfer();
  files.items.add(new File([bytes], name, { type: "image/png" }));
  document.getElementById("reply").dispatchEvent(
    new ClipboardEvent("paste", { clipboardData: files, bubbles: true, cancelable: true }));
}"""

DROP = """([name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const files = new DataTransfer();
  files.items.add(new File([bytes], name, { type: "application/pdf" }));
  const form = document.getElementById("reply-form");
  const init = { dataTransfer: files, bubbles: true, cancelable: true };
  form.dispatchEvent(new DragEvent("dragover", init));
  form.dispatchEvent(new DragEvent("drop", init));
}"""


async def test_a_pasted_image_and_a_dropped_file_go_with_the_reply(
    context: Any, site: WidgetSite
) -> None:
    page, watch = await open_page(context, site.page("paste"))
    await open_widget(page)
    await page.get_by_role("textbox", name="Type your message").fill("Hello")
    await page.get_by_role("textbox", name="Type your message").press("Enter")
    conversation = await site.conversation_id()

    await signed_in(context, site.live, site.owner.client)
    inbox_page, inbox_watch = await open_page(context, f"{site.live.url}/inbox")
    await inbox_page.locator(f'#conversation-list button[data-id="{conversation}"]').click()
    image = base64.b64encode(png(64, 48)).decode()
    await inbox_page.evaluate(PASTE, ["screenshot.png", image])
    await inbox_page.evaluate(DROP, ["terms.pdf", base64.b64encode(PDF).decode()])
    await expect(inbox_page.locator("#reply-files .file-chip.ready")).to_have_count(2)
    await screenshot(inbox_page, "attachments-inbox-pending")
    await inbox_page.locator("#reply").press("Enter")
    reply = inbox_page.locator("#message-list > li.out")
    await expect(reply.locator("img.preview")).to_be_visible()
    await expect(reply.locator("a.file-chip")).to_contain_text("terms.pdf")
    [_, sent] = await site.wait_messages(conversation, lambda items: len(items) == 2)
    assert [a["name"] for a in sent["attachments"]] == ["screenshot.png", "terms.pdf"]
    # The visitor sees both: the image as a picture, the document as a link.
    visitor_image = page.locator("[data-inviaro-widget] li a.file img")
    await expect(visitor_image).to_be_visible()
    await wait_until(lambda: loaded(visitor_image))
    document = page.locator("[data-inviaro-widget] li a.file", has_text="terms.pdf")
    await expect(document).to_be_visible()
    await screenshot(page, "attachments-widget-received")
    await screenshot(inbox_page, "attachments-inbox-sent")
    assert watch.problems() == [] and inbox_watch.problems() == []


async def test_a_refused_file_says_why_and_leaves_nothing_to_send(
    context: Any, site: WidgetSite, tmp_path: Path
) -> None:
    page, _ = await open_page(context, site.page("refused"))
    await open_widget(page)
    await page.get_by_role("textbox", name="Type your message").fill("Hello")
    await page.get_by_role("textbox", name="Type your message").press("Enter")
    conversation = await site.conversation_id()
    page_file = tmp_path / "invoice.png"
    page_file.write_bytes(b"<html><script>alert(document.cookie)</script></html>")

    await signed_in(context, site.live, site.owner.client)
    inbox_page, _ = await open_page(context, f"{site.live.url}/inbox")
    await inbox_page.locator(f'#conversation-list button[data-id="{conversation}"]').click()
    await inbox_page.locator("#reply-file").set_input_files(str(page_file))
    await expect(inbox_page.locator(".toast.error")).to_contain_text(
        "Could not attach invoice.png: This kind of file cannot be uploaded"
    )
    await expect(inbox_page.locator("#reply-files")).to_be_hidden()
    await screenshot(inbox_page, "attachments-refused")
    # A browser shows the visitor the same sentence.
    await page.locator("[data-inviaro-widget] input[type=file]").set_input_files(str(page_file))
    await expect(page.locator("[data-inviaro-widget] .status")).to_contain_text(
        "Not sent: This kind of file cannot be uploaded"
    )
    items = await site.messages(conversation)
    assert [m["attachments"] for m in items] == [[]]


WIDGET_DROP = """([name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const files = new DataTransfer();
  files.items.add(new File([bytes], name, { type: "image/png" }));
  const pane = document.querySelector("[data-inviaro-widget]").shadowRoot.querySelector(".log");
  const init = { dataTransfer: files, bubbles: true, cancelable: true };
  pane.dispatchEvent(new DragEvent("dragover", init));
  pane.dispatchEvent(new DragEvent("drop", init));
}"""


async def test_a_file_dropped_on_the_widgets_conversation_is_sent(
    context: Any, site: WidgetSite
) -> None:
    page, watch = await open_page(context, site.page("widget-drop"))
    await open_widget(page)
    await page.evaluate(WIDGET_DROP, ["map.png", base64.b64encode(png(64, 48)).decode()])
    visitor_file = page.locator("[data-inviaro-widget] li a.file img")
    await expect(visitor_file).to_be_visible()
    await wait_until(lambda: loaded(visitor_file))
    conversation = await site.conversation_id()
    [message] = await site.wait_messages(conversation, lambda items: len(items) == 1)
    [attachment] = message["attachments"]
    assert (attachment["name"], attachment["mime"]) == ("map.png", "image/png")
    await screenshot(page, "attachments-widget-dropped")
    assert watch.problems() == []


async def test_a_channels_image_turns_into_a_thumbnail_once_copied_without_reload(
    db_url: str, context: Any
) -> None:
    async with hub_server(db_url) as hub:  # no worker in-process: the test copies the file
        channel = await hub.channel("messenger")
        data = payload("messenger_attachment.json")
        data["entry"][0]["messaging"][0]["message"]["mid"] = unique("mid.")
        data["entry"][0]["messaging"][0]["sender"]["id"] = unique("65")
        assert (await post_meta(hub, channel, data)).status_code == 200
        [message] = await hub.messages(channel)
        await signed_in(context, hub.live, hub.owner.client)
        page, watch = await inbox(context, hub.live)
        await page.locator(
            f'#conversation-list button[data-id="{message.conversation_id}"]'
        ).click()
        shown = page.locator("#message-list li.in")
        await expect(shown.locator("a.file-chip")).to_be_visible()  # the provider's link

        url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg"
        handler = serving(url, httpx.Response(200, content=JPEG))
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            await media_inbound.fetch(hub.services, message.id, client)
        thumbnail = shown.locator("img.preview")
        await expect(thumbnail).to_be_visible()
        await wait_until(lambda: loaded(thumbnail))
        assert await thumbnail.evaluate("(img) => img.naturalWidth") == 320
        await expect(shown.locator("a.file-chip")).to_have_count(0)
        await screenshot(page, "attachments-inbound-copied")
        assert watch.problems() == []
