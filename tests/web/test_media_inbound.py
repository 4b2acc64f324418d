"""Channel media is copied into the hub's media storage after the webhook is answered:
WhatsApp by media id (through the channel's token), Messenger and Viber by their expiring
URL. The message then carries the hub's links (the provider's media id kept); a download
that may work later keeps the provider's reference and is retried by the worker; a file the
provider no longer has keeps it for good. Providers are httpx MockTransports swapped in
for the app's outside client (``Hub.mock``)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, update

from hub.model import utcnow
from storage import models as m
from tests.web.realtime import operator_socket
from tests.web.test_webhooks import (
    ACCESS_TOKEN,
    Hub,
    body_of,
    hub_server,
    payload,
    post_meta,
    unique,
    viber_headers,
    wa_message,
)
from web import media_inbound, worker


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (500, 400), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


JPEG = jpeg()


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started


def serving(url: str, answer: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == url:
            return answer
        return httpx.Response(404)

    return handler


async def download(hub: Hub, message_id: str, handler: Any) -> m.Message:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await media_inbound.fetch(hub.services, message_id, client)
    return await hub.message(message_id)


async def queued(hub: Hub, message_id: str) -> m.MediaFetch | None:
    async with hub.services.db() as db:
        return await db.get(m.MediaFetch, message_id)


async def the_message(hub: Hub, channel: str) -> m.Message:
    """The channel's one message, its media queued by the time the webhook was answered."""
    [message] = await hub.messages(channel)
    assert await queued(hub, message.id) is not None
    return message


async def a_messenger_image(hub: Hub) -> m.Message:
    """A new sender's Messenger image (the sample payload), acknowledged and its media queued."""
    channel = await hub.channel("messenger")
    data = payload("messenger_attachment.json")
    data["entry"][0]["messaging"][0]["message"]["mid"] = unique("mid.")
    data["entry"][0]["messaging"][0]["sender"]["id"] = unique("65")
    assert (await post_meta(hub, channel, data)).status_code == 200
    return await the_message(hub, channel)


async def test_whatsapp_media_is_stored_by_its_id_and_the_message_links_to_it(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    data = wa_message("wa_image.json", wamid=unique("wamid."), sender=unique("4915"))
    assert (await post_meta(hub, channel, data)).status_code == 200
    message = await the_message(hub, channel)
    lookaside = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453"

    def graph(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
        if request.url.host == "graph.facebook.com":
            return httpx.Response(200, json={"url": lookaside, "mime_type": "image/jpeg"})
        return httpx.Response(200, content=JPEG)

    stored = await download(hub, message.id, graph)
    [attachment] = stored.attachments
    media_id = attachment["media_id"]
    assert attachment == {
        "url": f"/api/files/{media_id}",
        "mime": "image/jpeg",
        "name": "image.jpg",
        "size": len(JPEG),
        "media_id": media_id,
        "thumbnail_url": f"/api/files/{media_id}?thumb=true",
        "provider_media_id": "65463453",
    }
    assert await queued(hub, message.id) is None
    served = await hub.owner.get(attachment["url"], follow_redirects=True)
    assert served.content == JPEG
    listed = await hub.owner.get(f"/api/conversations/{message.conversation_id}/messages")
    assert listed.json()["items"][0]["attachments"][0]["url"] == f"/api/files/{media_id}"


async def test_a_messenger_image_is_stored_from_its_url(hub: Hub) -> None:
    message = await a_messenger_image(hub)
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg"
    stored = await download(hub, message.id, serving(url, httpx.Response(200, content=JPEG)))
    [attachment] = stored.attachments
    assert (attachment["mime"], attachment["size"]) == ("image/jpeg", len(JPEG))
    assert attachment["url"] == f"/api/files/{attachment['media_id']}"


async def test_a_viber_picture_is_stored_from_its_url_under_its_name(hub: Hub) -> None:
    channel = await hub.channel("viber")
    data = payload("viber_message_picture.json")
    data["message_token"] = int(uuid.uuid4().int % 10**17)
    data["sender"]["id"] = unique("vb")
    body = body_of(data)
    async with hub.live.client() as client:
        response = await client.post(
            f"/webhooks/viber/{channel}", content=body, headers=viber_headers(body)
        )
        assert response.status_code == 200
    message = await the_message(hub, channel)
    url = "https://dl-media.viber.com/a.jpg"
    stored = await download(hub, message.id, serving(url, httpx.Response(200, content=JPEG)))
    [attachment] = stored.attachments
    assert (attachment["name"], attachment["mime"]) == ("a.jpg", "image/jpeg")
    assert "media_id" in attachment


async def test_a_download_that_may_work_later_is_retried_by_the_worker(hub: Hub) -> None:
    message = await a_messenger_image(hub)
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg"
    before = list(message.attachments)
    stored = await download(hub, message.id, serving(url, httpx.Response(503)))
    assert stored.attachments == before  # the provider's reference, until it works
    row = await queued(hub, message.id)
    assert row is not None and row.attempts == 1 and row.last_error == "HTTP 503"
    assert row.next_attempt_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None)

    async with hub.services.engine.begin() as conn:  # as if the delay had passed
        await conn.execute(
            update(m.MediaFetch)
            .where(m.MediaFetch.message_id == message.id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    handler = serving(url, httpx.Response(200, content=JPEG))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        while await queued(hub, message.id) is not None:
            assert await media_inbound.retry_due(hub.services, client) >= 1
    [attachment] = (await hub.message(message.id)).attachments
    assert attachment["url"] == f"/api/files/{attachment['media_id']}"


async def test_an_expired_url_keeps_the_providers_reference_for_good(hub: Hub) -> None:
    message = await a_messenger_image(hub)
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg"
    stored = await download(hub, message.id, serving(url, httpx.Response(403)))
    assert stored.attachments == message.attachments
    assert await queued(hub, message.id) is None


async def test_media_of_a_type_the_hub_refuses_is_not_kept(hub: Hub) -> None:
    message = await a_messenger_image(hub)
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg"
    page = httpx.Response(200, content=b"<html><script>alert(1)</script></html>")
    stored = await download(hub, message.id, serving(url, page))
    assert stored.attachments == message.attachments
    async with hub.services.db() as db:
        kept = await db.scalars(
            select(m.Media).where(m.Media.conversation_id == message.conversation_id)
        )
        assert list(kept) == []


async def test_an_open_inbox_receives_the_message_again_with_the_stored_copy(hub: Hub) -> None:
    message = await a_messenger_image(hub)
    socket = await operator_socket(hub.owner, hub.live.ws_url)
    try:
        url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg"
        stored = await download(hub, message.id, serving(url, httpx.Response(200, content=JPEG)))
        while True:
            frame = await socket.wait_for(type="message")
            if frame["message"]["id"] == message.id:
                break
    finally:
        await socket.close()
    [attachment] = frame["message"]["attachments"]
    assert attachment == stored.attachments[0]
    assert attachment["thumbnail_url"] == f"/api/files/{attachment['media_id']}?thumb=true"
    assert frame["message"]["seq"] == message.seq


async def test_a_copy_past_the_workspace_quota_keeps_the_providers_reference(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    message = await a_messenger_image(hub)
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg"
    saved = hub.services.settings
    hub.services.settings = dataclasses.replace(saved, media_quota_bytes=len(JPEG) - 1)
    try:
        with caplog.at_level(logging.WARNING, logger="inviaro.media"):
            stored = await download(
                hub, message.id, serving(url, httpx.Response(200, content=JPEG))
            )
    finally:
        hub.services.settings = saved
    assert stored.attachments == message.attachments
    assert await queued(hub, message.id) is None  # not tried again: the quota will not pass
    [warning] = [r for r in caplog.records if "quota" in r.getMessage()]
    assert warning.levelno == logging.WARNING and message.id in warning.getMessage()


async def test_the_in_process_worker_copies_a_file_as_soon_as_its_message_is_accepted(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default: the copy starts after the commit, not at the worker's next poll
    (made an hour here, so no poll can do it)."""
    monkeypatch.setattr(worker, "IDLE_POLL_S", 3600.0)
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg"
    async with (
        hub_server(db_url, run_worker=True) as hub,
        hub.mock(serving(url, httpx.Response(200, content=JPEG))),
    ):
        channel = await hub.channel("messenger")
        data = payload("messenger_attachment.json")
        data["entry"][0]["messaging"][0]["message"]["mid"] = unique("mid.")
        assert (await post_meta(hub, channel, data)).status_code == 200
        [message] = await hub.messages(channel)
        for _ in range(200):  # the bound only guards against a hang
            [attachment] = (await hub.message(message.id)).attachments
            if "media_id" in attachment:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the file was never copied")
    assert attachment["url"] == f"/api/files/{attachment['media_id']}"
