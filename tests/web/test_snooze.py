"""Snooze: a conversation is ``pending`` until its time, then the worker reopens it and
tells the operators; a new status or null ends a snooze early."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from hub.model import rfc3339, utcnow
from tests.web.realtime import close_all_sockets, operator_socket
from tests.web.test_outbox import queued_reply
from tests.web.webhook_hub import Hub, hub_server, send_due
from web.worker import wake_snoozed


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started
    await close_all_sockets()


async def snoozed_conversation(hub: Hub, minutes: int = 60) -> tuple[str, str]:
    _, _, message_id = await queued_reply(hub)
    conv = (await hub.message(message_id)).conversation_id
    until = rfc3339(utcnow() + timedelta(minutes=minutes))
    response = await hub.owner.patch(f"/api/conversations/{conv}", {"snoozed_until": until})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["snoozed_until"]) == ("pending", until)
    return conv, until


async def test_the_worker_reopens_a_conversation_when_its_snooze_ends(hub: Hub) -> None:
    conv, _ = await snoozed_conversation(hub)
    sock = await operator_socket(hub.owner, hub.live.ws_url)
    # The worker's pass, with a provider that refuses everything (no call leaves loopback).
    refuse = httpx.MockTransport(lambda request: httpx.Response(400, json={}))
    async with httpx.AsyncClient(transport=refuse) as client:
        await send_due(hub, client=client, now=utcnow() + timedelta(minutes=30))
        assert (await hub.owner.get(f"/api/conversations/{conv}")).json()["status"] == "pending"
        await send_due(hub, client=client, now=utcnow() + timedelta(minutes=61))
    frame = await sock.wait_for(type="conversation")
    while frame["conversation"]["id"] != conv:
        frame = await sock.wait_for(type="conversation")
    assert (frame["conversation"]["status"], frame["conversation"]["snoozed_until"]) == (
        "open",
        None,
    )
    shown = (await hub.owner.get(f"/api/conversations/{conv}")).json()
    assert (shown["status"], shown["snoozed_until"]) == ("open", None)


async def test_woken_conversations_are_told_in_one_publish_the_earliest_due_first(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    last, first, second = [(await snoozed_conversation(hub, m))[0] for m in (72, 70, 71)]
    sock = await operator_socket(hub.owner, hub.live.ws_url)
    bus = hub.services.hub.bus
    publish_many = bus.publish_many
    batches: list[int] = []

    async def counted(publications: Any) -> None:
        batches.append(len(publications))
        await publish_many(publications)

    monkeypatch.setattr(bus, "publish_many", counted)
    woken = await wake_snoozed(hub.services, utcnow() + timedelta(minutes=73))
    monkeypatch.undo()

    assert len(batches) == 1 and batches[0] == woken >= 3  # one round trip for them all
    told: list[str] = []
    while len(told) < 3:
        frame = await sock.wait_for(type="conversation")
        if frame["conversation"]["id"] in (first, second, last):
            assert frame["conversation"]["status"] == "open"
            told.append(frame["conversation"]["id"])
    assert told == [first, second, last]


async def test_a_new_status_or_null_ends_a_snooze(hub: Hub) -> None:
    conv, _ = await snoozed_conversation(hub)
    resolved = await hub.owner.patch(f"/api/conversations/{conv}", {"status": "resolved"})
    assert (resolved.json()["status"], resolved.json()["snoozed_until"]) == ("resolved", None)
    conv, _ = await snoozed_conversation(hub)
    cleared = await hub.owner.patch(f"/api/conversations/{conv}", {"snoozed_until": None})
    assert cleared.json()["snoozed_until"] is None


@pytest.mark.parametrize(
    "value",
    ["tomorrow", "2020-01-01T00:00:00Z", "9999-12-31T23:59:59Z", 5, "2026-13-40T00:00:00Z"],
)
async def test_a_snooze_must_be_a_future_time(hub: Hub, value: object) -> None:
    _, _, message_id = await queued_reply(hub)
    conv = (await hub.message(message_id)).conversation_id
    response = await hub.owner.patch(f"/api/conversations/{conv}", {"snoozed_until": value})
    assert (response.status_code, response.json()["error"]) == (422, "invalid")
