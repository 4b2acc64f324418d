"""The ingest API's ``sent_at``: stored with the message and returned in its objects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, new_client, signup


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client)


async def ingest(owner: Account, items: list[dict[str, Any]], packed: bool = False) -> Any:
    response = await owner.post("/api/channels", {"kind": "custom", "name": "SMS", "config": {}})
    assert response.status_code == 201, response.text
    channel = response.json()
    headers = {"Authorization": f"Bearer {channel['ingest_token']}"}
    url = f"/api/ingest/{channel['id']}"
    if packed:
        headers["Content-Type"] = "application/msgpack"
        response = await owner.client.post(
            url, content=msgpack.packb({"messages": items}), headers=headers
        )
    else:
        response = await owner.client.post(url, json={"messages": items}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["accepted"]


async def listed(owner: Account, accepted: dict[str, Any]) -> dict[str, Any]:
    response = await owner.get(f"/api/conversations/{accepted['conversation_id']}/messages")
    assert response.status_code == 200, response.text
    return next(m for m in response.json()["items"] if m["id"] == accepted["message_id"])


def sms(external_id: str, **kw: Any) -> dict[str, Any]:
    return {"external_id": external_id, "contact": {"external_id": "+4915100"}, "text": "hi", **kw}


async def test_an_ingested_sent_at_is_returned_with_the_message_in_utc(owner: Account) -> None:
    [accepted] = await ingest(owner, [sms("e1", sent_at="2026-03-01T13:00:00+01:00")])
    message = await listed(owner, accepted)
    assert message["sent_at"] == "2026-03-01T12:00:00.000Z"
    assert message["created_at"] != message["sent_at"]  # when the hub stored it


async def test_a_message_ingested_without_sent_at_has_none(owner: Account) -> None:
    [accepted] = await ingest(owner, [sms("e1")])
    assert "sent_at" not in await listed(owner, accepted)


async def test_sent_at_is_kept_from_msgpack_too(owner: Account) -> None:
    [accepted] = await ingest(owner, [sms("e1", sent_at="2026-03-01T12:00:00Z")], packed=True)
    assert (await listed(owner, accepted))["sent_at"] == "2026-03-01T12:00:00.000Z"


async def test_the_conversations_last_message_carries_sent_at(owner: Account) -> None:
    [accepted] = await ingest(owner, [sms("e1", sent_at="2026-03-01T12:00:00Z")])
    response = await owner.get(f"/api/conversations/{accepted['conversation_id']}")
    assert response.json()["last_message"]["sent_at"] == "2026-03-01T12:00:00.000Z"
