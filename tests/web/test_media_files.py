"""Files the hub keeps, over HTTP on both databases: uploads within the limits (413/415
keep nothing), only the workspace's operators and the conversation's visitor reach a file,
through short-lived signed links served under a sandbox; a message carries a stored file;
erasing the contact removes its files from disk; an operator's file reaches WhatsApp by
its media API (upload, then send by id)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.model import utcnow
from hub.ratelimit import Limit
from storage import media
from storage import models as m
from storage.retention import purge_expired
from tests.conftest import LiveServer
from tests.helpers import Account, new_client, signup
from tests.web.realtime import (
    ORIGIN,
    close_all_sockets,
    started_visitor,
    visitor_session,
    visitor_socket,
    widget_channel,
)
from tests.web.test_media_types import png
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
from tests.web.webhook_hub import send_due
from web import media_links

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url, media_max_bytes=64 * 1024) as started:
        yield started
    await close_all_sockets()


def media_root(hub: Hub) -> Path:
    return hub.live.settings.media_path


def stored_files(hub: Hub) -> list[Path]:
    root = media_root(hub)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def conversation(owner: Account) -> tuple[str, dict[str, Any]]:
    """A widget conversation of ``owner``'s workspace: (its id, the visitor's session)."""
    session = await started_visitor(owner, await widget_channel(owner))
    return str(session["conversation_id"]), session


async def upload(
    owner: Account, conv: str, data: bytes, name: str, mime: str = "application/octet-stream"
) -> httpx.Response:
    return await owner.client.post(
        f"/api/conversations/{conv}/files",
        params={"name": name},
        content=data,
        headers={**owner.csrf, "Content-Type": mime},
    )


async def visitor_upload(
    live: LiveServer, token: str, data: bytes, name: str = "photo.png"
) -> httpx.Response:
    async with new_client(live.url) as client:
        return await client.post(
            "/api/widget/files",
            params={"name": name},
            content=data,
            headers={"X-Visitor-Token": token, "Origin": ORIGIN, "Content-Type": "image/png"},
        )


async def media_rows(hub: Hub, workspace_id: str) -> list[m.Media]:
    async with hub.services.db() as db:
        return list(await db.scalars(select(m.Media).where(m.Media.workspace_id == workspace_id)))


async def test_an_operator_uploads_an_image_with_a_thumbnail(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    r = await upload(hub.owner, conv, png(), "../shop/Photo 1.png", "text/html")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["mime"], body["name"], body["size"]) == ("image/png", "Photo 1.png", len(png()))
    assert body["url"] == f"/api/files/{body['id']}"
    assert body["thumbnail_url"] == f"/api/files/{body['id']}?thumb=true"
    [row] = [r for r in await media_rows(hub, hub.owner.workspace_id) if r.id == body["id"]]
    assert (row.conversation_id, row.thumbnail) == (conv, f"{row.workspace_id}/{row.id}.thumb.webp")


async def test_a_file_over_the_limit_is_413_and_nothing_is_kept(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    before, rows = stored_files(hub), len(await media_rows(hub, hub.owner.workspace_id))
    r = await upload(hub.owner, conv, PDF + b"x" * (64 * 1024), "big.pdf")
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "too_large" and "nothing was kept" in r.json()["detail"]
    assert stored_files(hub) == before
    assert len(await media_rows(hub, hub.owner.workspace_id)) == rows


async def test_a_streamed_body_without_length_is_stopped_at_the_limit(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    before = stored_files(hub)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"%PDF-" + b"x" * 8192

    r = await hub.owner.client.post(
        f"/api/conversations/{conv}/files",
        params={"name": "big.pdf"},
        content=body(),
        headers=hub.owner.csrf,
    )
    assert r.status_code == 413, r.text
    assert stored_files(hub) == before


@pytest.mark.parametrize(
    ("data", "name", "claimed"),
    [
        (b"<html><script>alert(document.cookie)</script></html>", "photo.png", "image/png"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg", "image/svg"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "invoice.pdf", "application/pdf"),
    ],
)
async def test_a_forbidden_type_is_415_and_nothing_is_kept(
    hub: Hub, data: bytes, name: str, claimed: str
) -> None:
    conv, _ = await conversation(hub.owner)
    before, rows = stored_files(hub), len(await media_rows(hub, hub.owner.workspace_id))
    r = await upload(hub.owner, conv, data, name, claimed)
    assert r.status_code == 415, r.text
    assert r.json()["error"] == "unsupported_media_type"
    assert stored_files(hub) == before
    assert len(await media_rows(hub, hub.owner.workspace_id)) == rows


async def test_an_empty_upload_is_refused(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    r = await upload(hub.owner, conv, b"", "nothing.txt")
    assert (r.status_code, r.json()["error"]) == (400, "empty")


async def test_another_workspace_can_neither_upload_into_nor_open_a_file(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    file_id = (await upload(hub.owner, conv, PDF, "a.pdf")).json()["id"]
    async with new_client(hub.live.url) as client:
        stranger = await signup(client)
        assert (await upload(stranger, conv, PDF, "b.pdf")).status_code == 404
        r = await stranger.get(f"/api/files/{file_id}", follow_redirects=False)
        assert r.status_code == 404
    async with new_client(hub.live.url) as anonymous:
        r = await anonymous.get(f"/api/files/{file_id}", follow_redirects=False)
        assert r.status_code == 401


async def test_opening_a_file_redirects_to_a_signed_link_served_under_a_sandbox(
    hub: Hub,
) -> None:
    conv, _ = await conversation(hub.owner)
    image = (await upload(hub.owner, conv, png(), "p.png")).json()
    document = (await upload(hub.owner, conv, PDF, "Offer €.pdf")).json()
    r = await hub.owner.get(image["url"], follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/api/files/signed/")
    served = await hub.owner.get(image["url"], follow_redirects=True)
    assert served.status_code == 200 and served.content == png()
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"] == "inline; filename*=UTF-8''p.png"
    assert served.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "private, no-store"
    pdf = await hub.owner.get(document["url"], follow_redirects=True)
    assert pdf.content == PDF
    disposition = "attachment; filename*=UTF-8''Offer%20%E2%82%AC.pdf"
    assert pdf.headers["content-disposition"] == disposition
    assert pdf.headers["content-security-policy"] == "sandbox; default-src 'none'"
    thumb = await hub.owner.get(image["thumbnail_url"], follow_redirects=True)
    assert thumb.headers["content-type"] == "image/webp" and thumb.content[8:12] == b"WEBP"
    no_thumb = await hub.owner.get(f"/api/files/{document['id']}?thumb=true")
    assert no_thumb.status_code == 404


async def test_an_expired_or_forged_signature_is_refused(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    file_id = (await upload(hub.owner, conv, PDF, "a.pdf")).json()["id"]
    secret = hub.live.settings.secret_key
    expired = media_links.sign(secret, file_id, False, 300, now=time.time() - 301)
    async with new_client(hub.live.url) as anyone:
        r = await anyone.get(expired)
        assert (r.status_code, r.json()["error"]) == (403, "expired")
        forged = media_links.sign("another-secret-key-that-is-long-enough-000", file_id, False, 300)
        assert (await anyone.get(forged)).status_code == 403
        fresh = media_links.sign(secret, file_id, False, 300)
        assert (await anyone.get(fresh)).content == PDF


async def test_a_visitor_uploads_into_their_own_conversation_only(hub: Hub) -> None:
    conv, session = await conversation(hub.owner)
    r = await visitor_upload(hub.live, session["visitor_token"], png())
    assert r.status_code == 201, r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    file_id = r.json()["id"]
    [row] = [r for r in await media_rows(hub, hub.owner.workspace_id) if r.id == file_id]
    assert row.conversation_id == conv
    async with new_client(hub.live.url) as client:
        own = await client.get(
            f"/api/widget/files/{file_id}", headers={"X-Visitor-Token": session["visitor_token"]}
        )
        assert own.status_code == 200, own.text
        link = own.json()
        assert link["url"].startswith(hub.live.url + "/api/files/signed/")
        assert (await client.get(link["url"])).content == png()
        _, other = await conversation(hub.owner)
        foreign = await client.get(
            f"/api/widget/files/{file_id}", headers={"X-Visitor-Token": other["visitor_token"]}
        )
        assert foreign.status_code == 404
        forged = await client.get(
            f"/api/widget/files/{file_id}", headers={"X-Visitor-Token": "not-a-token"}
        )
        assert forged.status_code == 403
    assert (await visitor_upload(hub.live, "not-a-token", png())).status_code == 403


async def test_a_message_carries_a_stored_file_by_its_stable_link(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    file_id = (await upload(hub.owner, conv, png(), "p.png")).json()["id"]
    r = await hub.owner.post(
        f"/api/conversations/{conv}/messages", json={"text": "", "attachments": [file_id]}
    )
    assert r.status_code == 201, r.text
    assert r.json()["attachments"] == [
        {
            "url": f"/api/files/{file_id}",
            "mime": "image/png",
            "name": "p.png",
            "size": len(png()),
            "media_id": file_id,
            "thumbnail_url": f"/api/files/{file_id}?thumb=true",
        }
    ]
    listed = await hub.owner.get(f"/api/conversations/{conv}/messages")
    assert listed.json()["items"][-1]["attachments"] == r.json()["attachments"]


async def test_a_message_cannot_carry_another_conversations_file(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    other, _ = await conversation(hub.owner)
    file_id = (await upload(hub.owner, other, PDF, "a.pdf")).json()["id"]
    r = await hub.owner.post(
        f"/api/conversations/{conv}/messages", json={"text": "see", "attachments": [file_id]}
    )
    assert r.status_code == 422, r.text
    empty = await hub.owner.post(f"/api/conversations/{conv}/messages", json={"text": " "})
    assert empty.status_code == 422


async def test_erasing_the_contact_deletes_their_files_from_disk(hub: Hub) -> None:
    conv, session = await conversation(hub.owner)
    mine = (await upload(hub.owner, conv, png(), "p.png")).json()["id"]
    theirs = (await visitor_upload(hub.live, session["visitor_token"], png())).json()["id"]
    root, workspace = media_root(hub), hub.owner.workspace_id
    paths = [root / workspace / mine, root / workspace / f"{mine}.thumb.webp"]
    paths.append(root / workspace / theirs)
    assert all(p.exists() for p in paths)
    contact = (await hub.owner.get(f"/api/conversations/{conv}")).json()["contact"]["id"]
    assert (await hub.owner.delete(f"/api/contacts/{contact}")).status_code == 204
    assert [p for p in paths if p.exists()] == []
    assert {mine, theirs} & {r.id for r in await media_rows(hub, workspace)} == set()
    assert (await hub.owner.get(f"/api/files/{mine}")).status_code == 404


async def test_an_operators_file_reaches_whatsapp_by_upload_then_media_id(hub: Hub) -> None:
    phone = unique("10")
    channel = await hub.channel("whatsapp", phone_number_id=phone)
    sender = unique("4917")
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    conv = inbound.conversation_id
    file_id = (await upload(hub.owner, conv, PDF, "offer.pdf")).json()["id"]
    r = await hub.owner.post(
        f"/api/conversations/{conv}/messages", json={"text": "Our offer", "attachments": [file_id]}
    )
    assert r.status_code == 201, r.text
    seen: list[httpx.Request] = []

    def graph(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith(f"/{phone}/media"):
            return httpx.Response(200, json={"id": "wa-media-1"})
        if request.url.path.endswith(f"/{phone}/messages"):
            return httpx.Response(200, json={"messages": [{"id": unique("wamid.")}]})
        return httpx.Response(400, json={"error": {"code": 100, "message": "not mine"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(graph)) as client:
        await send_due(hub, client=client)
    upload_request, send_request = [s for s in seen if phone in s.url.path]
    assert upload_request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert upload_request.headers["content-type"].startswith("multipart/form-data")
    form = upload_request.content
    assert b'name="messaging_product"\r\n\r\nwhatsapp' in form
    assert b'name="type"\r\n\r\napplication/pdf' in form and PDF in form
    assert json.loads(send_request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": sender,
        "type": "document",
        "document": {"id": "wa-media-1", "filename": "offer.pdf", "caption": "Our offer"},
    }
    assert (await hub.message(r.json()["id"])).status == "sent"


async def test_an_operators_file_reaches_messenger_as_a_signed_public_link(hub: Hub) -> None:
    channel = await hub.channel("messenger")
    data = payload("messenger_text.json")
    data["entry"][0]["messaging"][0]["message"]["mid"] = unique("mid.")
    data["entry"][0]["messaging"][0]["sender"]["id"] = psid = unique("65")
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    conv = inbound.conversation_id
    file_id = (await upload(hub.owner, conv, png(), "map.png")).json()["id"]
    r = await hub.owner.post(f"/api/conversations/{conv}/messages", json={"attachments": [file_id]})
    assert r.status_code == 201, r.text
    sent: list[dict[str, Any]] = []

    def graph(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("recipient", {}).get("id") != psid:
            return httpx.Response(400, json={"error": {"code": 100, "message": "not mine"}})
        sent.append(body["message"])
        return httpx.Response(200, json={"message_id": unique("m_")})

    async with httpx.AsyncClient(transport=httpx.MockTransport(graph)) as client:
        await send_due(hub, client=client)
    [message] = sent
    link = message["attachment"]["payload"]["url"]
    assert message["attachment"]["type"] == "image"
    assert link.startswith(hub.live.url + "/api/files/signed/")
    async with new_client(hub.live.url) as provider:  # Meta fetches it without credentials
        fetched = await provider.get(link)
    assert fetched.status_code == 200 and fetched.content == png()


async def test_retention_removes_uploads_never_sent_and_files_without_rows(hub: Hub) -> None:
    widget = await widget_channel(hub.owner)
    session = await visitor_session(hub.owner, widget)  # a visitor who never writes
    unsent = (await visitor_upload(hub.live, session["visitor_token"], png())).json()["id"]
    conv, _ = await conversation(hub.owner)
    kept = (await upload(hub.owner, conv, PDF, "kept.pdf")).json()["id"]
    root, workspace = media_root(hub), hub.owner.workspace_id
    stray = root / workspace / "md_leftover"
    stray.write_bytes(b"a file whose row is gone")
    report = await purge_expired(
        hub.services.engine, as_of=utcnow() + timedelta(days=2), media_dir=root
    )
    assert report.media_files >= 1
    assert not (root / workspace / unsent).exists() and not stray.exists()
    assert (root / workspace / kept).exists()
    assert {r.id for r in await media_rows(hub, workspace)} >= {kept}
    assert unsent not in {r.id for r in await media_rows(hub, workspace)}


async def test_a_visitor_sends_their_file_over_the_socket_and_never_anothers(hub: Hub) -> None:
    _, session = await conversation(hub.owner)
    _, other = await conversation(hub.owner)
    file_id = (await visitor_upload(hub.live, session["visitor_token"], png())).json()["id"]
    socket = await visitor_socket(session["ws_url"])
    await socket.send({"type": "send", "ref": "f", "attachments": [file_id]})
    ack = await socket.wait_for(type="ack", ref="f")
    assert [a["media_id"] for a in ack["message"]["attachments"]] == [file_id]
    assert ack["message"]["text"] == ""
    thief = await visitor_socket(other["ws_url"])
    await thief.send({"type": "send", "ref": "t", "text": "mine now", "attachments": [file_id]})
    refused = await thief.wait_for(type="error", ref="t")
    assert refused["code"] == "not_found"
    await socket.send({"type": "send", "ref": "e", "attachments": []})
    assert (await socket.wait_for(type="error", ref="e"))["code"] == "bad_frame"


async def test_uploads_past_the_limit_are_refused_with_429(db_url: str) -> None:
    async with hub_server(db_url, limit_uploads=Limit(2, 3600)) as small:
        conv, session = await conversation(small.owner)
        for _ in range(2):
            assert (await upload(small.owner, conv, PDF, "a.pdf")).status_code == 201
        refused = await upload(small.owner, conv, PDF, "a.pdf")
        assert (refused.status_code, refused.json()["error"]) == (429, "rate_limited")
        assert "retry-after" in refused.headers
        # The same address is spent for the visitor too.
        visitor = await visitor_upload(small.live, session["visitor_token"], png())
        assert visitor.status_code == 429


async def test_an_operators_file_reaches_viber_as_a_signed_public_link(hub: Hub) -> None:
    channel = await hub.channel("viber")
    data = payload("viber_message_text.json")
    data["message_token"] = int(uuid.uuid4().int % 10**17)
    data["sender"]["id"] = viber_id = unique("vb")
    body = body_of(data)
    async with hub.live.client() as client:
        headers = viber_headers(body)
        response = await client.post(f"/webhooks/viber/{channel}", content=body, headers=headers)
        assert response.status_code == 200
    [inbound] = await hub.messages(channel)
    conv = inbound.conversation_id
    file_id = (await upload(hub.owner, conv, PDF, "terms.pdf")).json()["id"]
    r = await hub.owner.post(
        f"/api/conversations/{conv}/messages", json={"text": "Terms", "attachments": [file_id]}
    )
    assert r.status_code == 201, r.text
    sent: list[dict[str, Any]] = []

    def viber(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("receiver") != viber_id:
            return httpx.Response(200, json={"status": 6, "status_message": "not mine"})
        sent.append(body)
        return httpx.Response(200, json={"status": 0, "message_token": len(sent)})

    async with httpx.AsyncClient(transport=httpx.MockTransport(viber)) as client:
        await send_due(hub, client=client)
    files = [s for s in sent if s["type"] == "file"]
    assert [(f["file_name"], f["size"]) for f in files] == [("terms.pdf", len(PDF))]
    assert files[0]["media"].startswith(hub.live.url + "/api/files/signed/")
    async with new_client(hub.live.url) as provider:
        assert (await provider.get(files[0]["media"])).content == PDF


async def test_no_visitor_file_before_consent_where_the_workspace_asks_for_it(hub: Hub) -> None:
    async with new_client(hub.live.url) as client:
        owner = await signup(client)
        asked = await owner.client.put(
            "/api/workspace/consent",
            json={"enabled": True, "text": "We keep your messages to answer you."},
            headers=owner.csrf,
        )
        assert asked.status_code == 200, asked.text
        session = await visitor_session(owner, await widget_channel(owner))
        r = await visitor_upload(hub.live, session["visitor_token"], png())
        assert (r.status_code, r.json()["error"]) == (403, "consent_required")
        assert await media_rows(hub, owner.workspace_id) == []


async def test_a_file_on_a_private_note_stays_the_operators(hub: Hub) -> None:
    conv, session = await conversation(hub.owner)
    file_id = (await upload(hub.owner, conv, PDF, "internal.pdf")).json()["id"]
    link = f"/api/widget/files/{file_id}"
    headers = {"X-Visitor-Token": session["visitor_token"]}
    async with new_client(hub.live.url) as visitor:
        assert (await visitor.get(link, headers=headers)).status_code == 404  # not sent yet
        note = await hub.owner.post(
            f"/api/conversations/{conv}/messages",
            json={"text": "for us", "attachments": [file_id], "private": True},
        )
        assert note.status_code == 201, note.text
        assert (await visitor.get(link, headers=headers)).status_code == 404
        reply = await hub.owner.post(
            f"/api/conversations/{conv}/messages", json={"attachments": [file_id]}
        )
        assert reply.status_code == 201, reply.text
        assert (await visitor.get(link, headers=headers)).status_code == 200


@contextlib.contextmanager
def quota(hub: Hub, limit: int) -> Iterator[None]:
    """The running hub with INVIARO_MEDIA_QUOTA_BYTES set to ``limit``, for the block."""
    saved = hub.services.settings
    hub.services.settings = dataclasses.replace(saved, media_quota_bytes=limit)
    try:
        yield
    finally:
        hub.services.settings = saved


async def test_an_upload_past_the_workspace_quota_is_413_and_nothing_is_kept(hub: Hub) -> None:
    conv, session = await conversation(hub.owner)
    used = await media.stored_bytes(hub.services.engine, hub.owner.workspace_id)
    with quota(hub, used + len(PDF)):
        assert (await upload(hub.owner, conv, PDF, "fits.pdf")).status_code == 201
        before, rows = stored_files(hub), len(await media_rows(hub, hub.owner.workspace_id))
        refused = await upload(hub.owner, conv, PDF, "one-too-many.pdf")
        assert refused.status_code == 413, refused.text
        assert refused.json()["error"] == "quota_exceeded"
        assert "storage quota" in refused.json()["detail"]
        visitor = await visitor_upload(hub.live, session["visitor_token"], png())
        assert (visitor.status_code, visitor.json()["error"]) == (413, "quota_exceeded")
        assert stored_files(hub) == before
        assert len(await media_rows(hub, hub.owner.workspace_id)) == rows


async def test_a_quota_of_zero_means_no_limit(hub: Hub) -> None:
    conv, _ = await conversation(hub.owner)
    with quota(hub, 0):
        assert (await upload(hub.owner, conv, PDF, "a.pdf")).status_code == 201
