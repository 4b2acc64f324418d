"""WhatsApp template sends: the way forward once the 24-hour window has closed.

Real server and database (SQLite and Postgres); the Cloud API is ``httpx.MockTransport``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from storage import models as m
from tests.web.realtime import started_visitor, widget_channel
from tests.web.test_outbox import Provider, accepted, outbox_row
from tests.web.webhook_hub import (
    ACCESS_TOKEN,
    Hub,
    hub_server,
    post_meta,
    send_due,
    unique,
    wa_message,
)

TEMPLATE = {"name": "appointment_reminder", "language": "en_US", "parameters": ["Anna", "10:00"]}


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started


async def closed_conversation(hub: Hub) -> tuple[str, str, str]:
    """A WhatsApp conversation whose contact last wrote two days ago:
    (phone number id, sender, conversation id)."""
    phone_number_id = unique("10")
    channel = await hub.channel("whatsapp", phone_number_id=phone_number_id)
    sender = unique("4917")
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    async with hub.services.db() as db:
        await db.execute(
            update(m.Conversation)
            .where(m.Conversation.id == inbound.conversation_id)
            .values(last_inbound_at=datetime.now(UTC) - timedelta(days=2))
        )
        await db.commit()
    return phone_number_id, sender, inbound.conversation_id


async def test_a_template_goes_out_after_the_window_closed(hub: Hub) -> None:
    phone_number_id, sender, conv_id = await closed_conversation(hub)
    free_form = await hub.owner.post(f"/api/conversations/{conv_id}/messages", json={"text": "hi"})
    assert free_form.status_code == 422
    assert free_form.json()["error"] == "window_closed"

    response = await hub.owner.post(
        f"/api/conversations/{conv_id}/template", json={**TEMPLATE, "client_id": "tpl-1"}
    )
    assert response.status_code == 201, response.text
    message = response.json()
    assert message["direction"] == "out"
    assert message["status"] == "queued"
    assert message["author"]["kind"] == "operator"
    assert message["text"] == "[template appointment_reminder (en_US): Anna, 10:00]"
    stored = await hub.message(message["id"])
    assert stored.payload == {"template": TEMPLATE}
    assert await outbox_row(hub, message["id"]) is not None

    again = await hub.owner.post(
        f"/api/conversations/{conv_id}/template", json={**TEMPLATE, "client_id": "tpl-1"}
    )
    assert (again.status_code, again.json()["id"]) == (200, message["id"])

    provider = Provider(phone_number_id, [accepted("wamid.TEMPLATE1")])
    async with provider.client() as client:
        assert await send_due(hub, client=client) >= 1
    [request] = provider.requests
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": sender,
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Anna"},
                        {"type": "text", "text": "10:00"},
                    ],
                }
            ],
        },
    }
    sent = await hub.message(message["id"])
    assert (sent.status, sent.provider_message_id) == ("sent", "wamid.TEMPLATE1")
    assert await outbox_row(hub, message["id"]) is None

    # Sending a template does not reopen the window for free-form text.
    still = await hub.owner.post(f"/api/conversations/{conv_id}/messages", json={"text": "hi"})
    assert (still.status_code, still.json()["error"]) == (422, "window_closed")


async def test_a_template_without_parameters(hub: Hub) -> None:
    phone_number_id, _, conv_id = await closed_conversation(hub)
    response = await hub.owner.post(
        f"/api/conversations/{conv_id}/template", json={"name": "hello_world", "language": "de"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "[template hello_world (de)]"
    provider = Provider(phone_number_id, [accepted("wamid.TEMPLATE2")])
    async with provider.client() as client:
        await send_due(hub, client=client)
    [request] = provider.requests
    assert json.loads(request.content)["template"] == {
        "name": "hello_world",
        "language": {"code": "de"},
    }


async def test_templates_are_for_whatsapp_conversations_only(hub: Hub) -> None:
    session = await started_visitor(hub.owner, await widget_channel(hub.owner))
    response = await hub.owner.post(
        f"/api/conversations/{session['conversation_id']}/template", json=TEMPLATE
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert "WhatsApp" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"language": "en_US"},
        {"name": "Appointment", "language": "en_US"},
        {"name": "a-b", "language": "en_US"},
        {"name": "", "language": "en_US"},
        {"name": "x" * 513, "language": "en_US"},
        {"name": 7, "language": "en_US"},
        {"name": "ok"},
        {"name": "ok", "language": "english"},
        {"name": "ok", "language": "en-US"},
        {"name": "ok", "language": "EN"},
        {"name": "ok", "language": "en_US", "parameters": "Anna"},
        {"name": "ok", "language": "en_US", "parameters": [1]},
        {"name": "ok", "language": "en_US", "parameters": [""]},
        {"name": "ok", "language": "en_US", "parameters": ["x" * 1025]},
        {"name": "ok", "language": "en_US", "parameters": ["p"] * 11},
        {"name": "ok", "language": "en_US", "client_id": "x" * 65},
    ],
)
async def test_bad_template_fields_are_422(hub: Hub, body: dict[str, Any]) -> None:
    _, _, conv_id = await closed_conversation(hub)
    response = await hub.owner.post(f"/api/conversations/{conv_id}/template", json=body)
    assert response.status_code == 422, body
    assert response.json()["error"] == "invalid"
    assert await hub.count(m.Message, m.Message.conversation_id == conv_id) == 1


async def test_the_limits_themselves_are_accepted(hub: Hub) -> None:
    _, _, conv_id = await closed_conversation(hub)
    body = {"name": "x" * 512, "language": "fil", "parameters": ["y" * 1024] * 10}
    response = await hub.owner.post(f"/api/conversations/{conv_id}/template", json=body)
    assert response.status_code == 201, response.text


async def test_another_workspaces_conversation_is_404_and_signed_out_is_401(hub: Hub) -> None:
    response = await hub.owner.post("/api/conversations/cv_nope/template", json=TEMPLATE)
    assert response.status_code == 404
    async with hub.live.client() as anonymous:
        refused = await anonymous.post("/api/conversations/cv_nope/template", json=TEMPLATE)
    assert refused.status_code == 401
