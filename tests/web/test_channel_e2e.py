"""WhatsApp end to end, on a real server over SQLite and Postgres.

A signed webhook in the Cloud API's documented shape becomes a ``message`` frame on an
operator's socket and a row in the database; the operator's reply leaves through the
outbox worker to the (mocked) Graph API with the documented request; the provider's
``delivered`` status comes back as a ``receipt`` frame on the same socket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from storage import models as m
from tests.conftest import LiveServer
from tests.helpers import new_client, signup
from tests.web.realtime import Socket, close_all_sockets, operator_socket
from tests.web.webhook_hub import (
    ACCESS_TOKEN,
    Hub,
    post_meta,
    send_due,
    unique,
    wa_message,
    wa_status,
)

GRAPH = "https://graph.facebook.com/v21.0"


@pytest.fixture
async def hub(live: LiveServer) -> AsyncIterator[Hub]:
    client = new_client(live.url)
    yield Hub(live, await signup(client, workspace="E2E"))
    await close_all_sockets()
    await client.aclose()


def with_phone(data: dict[str, Any], phone_number_id: str) -> dict[str, Any]:
    for entry in data["entry"]:
        for change in entry["changes"]:
            change["value"]["metadata"]["phone_number_id"] = phone_number_id
    return data


async def next_frame(socket: Socket, kind: str, **match: Any) -> dict[str, Any]:
    """The next frame of ``kind`` whose payload (message or frame itself) matches."""
    while True:
        frame = await socket.wait_for(type=kind)
        body = frame.get("message", frame)
        if all(body.get(k) == v for k, v in match.items()):
            return frame


async def test_whatsapp_in_and_out_end_to_end(hub: Hub, db_url: str) -> None:
    phone_number_id = unique("10")
    channel_id = await hub.channel("whatsapp", phone_number_id=phone_number_id)
    socket = await operator_socket(hub.owner, hub.live.ws_url)

    # In: a signed webhook becomes a frame and a row.
    sender, wamid = unique("4917"), unique("wamid.")
    inbound = with_phone(wa_message("wa_text.json", wamid=wamid, sender=sender), phone_number_id)
    response = await post_meta(hub, channel_id, inbound)
    assert response.status_code == 200, response.text
    frame = await next_frame(socket, "message", direction="in", text="Body Text")
    message = frame["message"]
    assert message["author"]["kind"] == "contact" and message["author"]["name"] == "Test Name"
    assert (message["seq"], message["status"]) == (1, "received")
    async with hub.services.db() as db:
        assert db.bind.dialect.name == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
        row = await db.scalar(
            select(m.Message).where(
                m.Message.channel_id == channel_id, m.Message.provider_message_id == wamid
            )
        )
    assert row is not None
    assert (row.id, row.conversation_id, row.seq) == (
        message["id"],
        message["conversation_id"],
        1,
    )
    assert (row.direction, row.text, row.author_kind) == ("in", "Body Text", "contact")

    # Out: the operator's reply, through the outbox, to the Graph API.
    conversation_id = message["conversation_id"]
    reply = await hub.owner.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": "Thanks, we are on it.", "client_id": "e2e-1"},
    )
    assert reply.status_code == 201, reply.text
    reply_id = reply.json()["id"]
    assert (reply.json()["status"], reply.json()["seq"]) == ("queued", 2)
    provider_id = unique("wamid.HBgL")
    sent: list[httpx.Request] = []

    def graph(request: httpx.Request) -> httpx.Response:
        if str(request.url) != f"{GRAPH}/{phone_number_id}/messages":
            # Another test's leftover in the shared database: refuse it for good.
            return httpx.Response(400, json={"error": {"code": 100, "message": "not mine"}})
        sent.append(request)
        return httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": sender, "wa_id": sender}],
                "messages": [{"id": provider_id}],
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(graph)) as client:
        await send_due(hub, client=client)
    [request] = sent
    assert request.method == "POST"
    assert str(request.url) == f"{GRAPH}/{phone_number_id}/messages"
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": sender,
        "type": "text",
        "text": {"body": "Thanks, we are on it.", "preview_url": False},
    }
    stored = await hub.message(reply_id)
    assert (stored.status, stored.provider_message_id) == ("sent", provider_id)

    # Back: the provider's delivered status becomes a receipt on the operator's socket.
    status = with_phone(wa_status("wa_status_delivered.json", wamid=provider_id), phone_number_id)
    assert (await post_meta(hub, channel_id, status)).status_code == 200
    receipt = await next_frame(socket, "receipt", message_id=reply_id, status="delivered")
    assert receipt["conversation_id"] == conversation_id
    assert (await hub.message(reply_id)).status == "delivered"
    listed = await hub.owner.get(f"/api/conversations/{conversation_id}/messages")
    assert [(i["seq"], i["direction"], i["status"]) for i in listed.json()["items"]] == [
        (1, "in", "received"),
        (2, "out", "delivered"),
    ]


async def test_a_redelivered_webhook_is_one_message_and_one_row(hub: Hub) -> None:
    channel_id = await hub.channel("whatsapp", phone_number_id=unique("10"))
    socket = await operator_socket(hub.owner, hub.live.ws_url)
    wamid = unique("wamid.")
    data = wa_message("wa_text.json", wamid=wamid, sender=unique("4917"))
    for _ in range(3):
        assert (await post_meta(hub, channel_id, data)).status_code == 200
    first = await next_frame(socket, "message", direction="in")
    await socket.send({"type": "ping"})
    later = []
    while (frame := await socket.recv())["type"] != "pong":
        later.append(frame)
    # A redelivery may be announced again; clients merge by id, so it is the same message.
    assert {f["message"]["id"] for f in later if f["type"] == "message"} <= {first["message"]["id"]}
    rows = await hub.messages(channel_id)
    assert [r.provider_message_id for r in rows] == [wamid]
