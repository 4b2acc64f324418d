"""Private notes: operators only. Never a visitor's socket (live or replayed), never a
channel (no outbox row, nothing at the provider), whatever door the note came in by; an
@mention sends a ``mention`` frame to the operator it names, and to no one else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, api_token, auth_headers, new_client, signup
from tests.web.realtime import (
    Socket,
    close_all_sockets,
    operator_socket,
    visitor_session,
    visitor_socket,
    widget_channel,
)
from tests.web.test_outbox import Provider, outbox_row, queued_reply
from tests.web.webhook_hub import Hub, hub_server, send_due


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client, name="Ada Owner")
    await close_all_sockets()


async def chatting(owner: Account, live: LiveServer) -> tuple[Socket, str]:
    """A visitor on the widget who has written once: (their socket, the conversation)."""
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    visitor = await visitor_socket(session["ws_url"])
    await visitor.send({"type": "send", "ref": 1, "text": "Hello?"})
    ack = await visitor.wait_for(type="ack", ref=1)
    return visitor, str(ack["message"]["conversation_id"])


def note_ids(frames: list[dict[str, Any]], ids: set[str]) -> list[dict[str, Any]]:
    """Frames that carry any of ``ids`` (a message, ack or receipt)."""
    return [
        f for f in frames if f.get("message_id") in ids or (f.get("message") or {}).get("id") in ids
    ]


async def test_a_note_reaches_operators_and_never_the_visitor(
    owner: Account, live: LiveServer
) -> None:
    visitor, conv = await chatting(owner, live)
    operator = await operator_socket(owner, live.ws_url)
    note = await owner.post(
        f"/api/conversations/{conv}/messages", {"text": "VIP, be kind", "private": True}
    )
    assert note.status_code == 201, note.text
    assert (note.json()["private"], note.json()["status"]) == (True, "sent")
    seen = await operator.wait_for(type="message")
    assert (seen["message"]["id"], seen["message"]["private"]) == (note.json()["id"], True)
    # A reply published after the note reaches the visitor: the note, published first,
    # would have been before it.
    reply = await owner.post(f"/api/conversations/{conv}/messages", {"text": "Hi there"})
    await visitor.wait_for(type="message", message=reply.json())
    assert note_ids(visitor.frames, {note.json()["id"]}) == []
    assert reply.json()["private"] is False


async def test_a_note_from_the_operator_socket_is_private_too(
    owner: Account, live: LiveServer
) -> None:
    visitor, conv = await chatting(owner, live)
    operator = await operator_socket(owner, live.ws_url)
    await operator.send(
        {"type": "send", "ref": "n", "conversation_id": conv, "text": "a note", "private": True}
    )
    ack = await operator.wait_for(type="ack", ref="n")
    assert ack["message"]["private"] is True
    await operator.send({"type": "send", "ref": "r", "conversation_id": conv, "text": "reply"})
    reply = (await operator.wait_for(type="ack", ref="r"))["message"]
    await visitor.wait_for(type="message", message=reply)
    assert note_ids(visitor.frames, {ack["message"]["id"]}) == []


async def test_a_visitor_resume_never_replays_a_note(owner: Account, live: LiveServer) -> None:
    visitor, conv = await chatting(owner, live)
    note = await owner.post(f"/api/conversations/{conv}/messages", {"text": "n", "private": True})
    reply = await owner.post(f"/api/conversations/{conv}/messages", {"text": "public"})
    await visitor.send({"type": "resume", "conversation_id": conv, "after_seq": 0})
    resumed = await visitor.wait_for(type="resumed")
    replayed = [f["message"]["id"] for f in visitor.frames if f.get("type") == "message"]
    assert reply.json()["id"] in replayed and note.json()["id"] not in replayed
    assert resumed["last_seq"] == reply.json()["seq"]
    # The operator's own resume has it all.
    operator = await operator_socket(owner, live.ws_url)
    await operator.send({"type": "resume", "conversation_id": conv, "after_seq": 0})
    await operator.wait_for(type="resumed")
    assert note.json()["id"] in [f["message"]["id"] for f in operator.frames if "message" in f]


async def test_a_visitor_cannot_write_a_note(owner: Account, live: LiveServer) -> None:
    visitor, _ = await chatting(owner, live)
    await visitor.send({"type": "send", "ref": 2, "text": "sneaky", "private": True})
    error = await visitor.wait_for(type="error", ref=2)
    assert error["code"] == "forbidden"


async def test_private_must_be_true_or_false(owner: Account, live: LiveServer) -> None:
    _, conv = await chatting(owner, live)
    bad = await owner.post(f"/api/conversations/{conv}/messages", {"text": "x", "private": "yes"})
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["field"] == "private"
    both = await owner.post(f"/api/conversations/{conv}/messages", {"text": 1, "private": 0})
    assert [p["field"] for p in both.json()["problems"]] == ["text", "private"]


async def test_a_mention_notifies_the_named_operator_only(owner: Account, live: LiveServer) -> None:
    _, conv = await chatting(owner, live)
    agent = await add_operator(owner, "agent")  # named "Agent Person"
    admin = await add_operator(owner, "admin")  # named "Admin Person"
    try:
        agent_sock = await operator_socket(agent, live.ws_url)
        admin_sock = await operator_socket(admin, live.ws_url)
        note = await owner.post(
            f"/api/conversations/{conv}/messages",
            {"text": "@agent can you take this one?", "private": True},
        )
        mention = await agent_sock.wait_for(type="mention")
        assert (mention["conversation_id"], mention["message"]["id"]) == (conv, note.json()["id"])
        # The admin got the note itself (all operators do) but no mention.
        await admin_sock.wait_for(type="message", message=note.json())
        later = await owner.post(f"/api/conversations/{conv}/messages", {"text": "@nobody x"})
        await admin_sock.wait_for(type="message", message=later.json())
        assert [f for f in admin_sock.frames if f["type"] == "mention"] == []
    finally:
        await agent.client.aclose()
        await admin.client.aclose()


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started


async def test_a_note_on_whatsapp_never_reaches_the_provider(hub: Hub) -> None:
    phone_number_id, _, reply_id = await queued_reply(hub)
    conv = (await hub.message(reply_id)).conversation_id
    note = await hub.owner.post(
        f"/api/conversations/{conv}/messages", {"text": "internal only", "private": True}
    )
    assert note.status_code == 201 and note.json()["status"] == "sent"
    assert await outbox_row(hub, note.json()["id"]) is None
    answer = httpx.Response(200, json={"messages": [{"id": "wamid.x"}]})
    provider = Provider(phone_number_id, [answer])
    async with provider.client() as client:
        await send_due(hub, client=client)
    sent = [r.content.decode() for r in provider.requests]
    assert len(sent) == 1 and "internal only" not in sent[0]
    # Nor can a Retry push it out.
    retry = await hub.owner.post(f"/api/conversations/{conv}/messages/{note.json()['id']}/retry")
    assert retry.status_code == 409


async def test_a_note_by_socket_or_api_token_on_whatsapp_never_reaches_the_provider(
    hub: Hub,
) -> None:
    phone_number_id, _, reply_id = await queued_reply(hub)
    conv = (await hub.message(reply_id)).conversation_id
    operator = await operator_socket(hub.owner, hub.live.ws_url)
    try:
        await operator.send(
            {
                "type": "send",
                "ref": "n",
                "conversation_id": conv,
                "text": "by socket",
                "private": True,
            }
        )
        by_socket = (await operator.wait_for(type="ack", ref="n"))["message"]
    finally:
        await close_all_sockets()
    token = await api_token(hub.owner)
    by_token = await hub.owner.client.post(
        f"/api/conversations/{conv}/messages",
        json={"text": "by token", "private": True},
        headers=auth_headers(token),
    )
    assert by_token.status_code == 201, by_token.text
    for note_id in (by_socket["id"], by_token.json()["id"]):
        assert await outbox_row(hub, note_id) is None
    answer = httpx.Response(200, json={"messages": [{"id": "wamid.y"}]})
    provider = Provider(phone_number_id, [answer])
    async with provider.client() as client:
        await send_due(hub, client=client)
    sent = " ".join(r.content.decode() for r in provider.requests)
    assert "by socket" not in sent and "by token" not in sent
