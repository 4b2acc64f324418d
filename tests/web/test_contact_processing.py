"""Restriction and objection per contact (CONTRACT "Privacy rights and records").

``restricted``: nothing automated runs for the contact, operators' replies still go out.
``objected``: an operator's message goes out only when it says ``confirm_objection``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import models as m
from storage.store import SqlStore
from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, signup
from tests.web.realtime import close_all_sockets, operator_socket
from tests.web.test_contacts import Contact, write_contact


@pytest.fixture
async def engine(live: LiveServer) -> AsyncIterator[AsyncEngine]:
    from storage.db import make_engine

    engine = make_engine(live.settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def store(engine: AsyncEngine) -> AsyncIterator[SqlStore]:
    store = SqlStore(engine)
    yield store
    await store.close()


@pytest.fixture
async def owner(client: httpx.AsyncClient, engine: AsyncEngine) -> AsyncIterator[Account]:
    owner = await signup(client)
    yield owner
    await close_all_sockets()
    # The replies queued here go to no provider: leave no due sends to other tests' workers.
    async with engine.begin() as conn:
        await conn.execute(
            delete(m.OutboxItem).where(m.OutboxItem.workspace_id == owner.workspace_id)
        )


@pytest.fixture
async def contact(owner: Account, store: SqlStore, engine: AsyncEngine) -> Contact:
    return await write_contact(store, engine, owner.workspace_id)


async def set_processing(owner: Account, contact: Contact, value: str) -> dict[str, Any]:
    response = await owner.patch(f"/api/contacts/{contact.id}", json={"processing": value})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def reply(owner: Account, contact: Contact, **extra: Any) -> httpx.Response:
    return await owner.post(
        f"/api/conversations/{contact.conversation_id}/messages", json={"text": "Hi", **extra}
    )


async def test_a_contact_is_processed_normally_by_default(owner: Account, contact: Contact) -> None:
    body = (await owner.get(f"/api/contacts/{contact.id}")).json()
    assert body["processing"] == "normal"
    assert body["processing_changed_at"] is None


@pytest.mark.parametrize("value", ["restricted", "objected", "normal"])
async def test_processing_is_set_shown_and_exported(
    owner: Account, contact: Contact, value: str
) -> None:
    if value == "normal":
        await set_processing(owner, contact, "restricted")
    body = await set_processing(owner, contact, value)
    assert body["processing"] == value
    assert body["processing_changed_by"] == owner.operator_id
    assert body["processing_changed_at"]
    assert (await owner.get(f"/api/contacts/{contact.id}")).json()["processing"] == value
    export = (await owner.get(f"/api/contacts/{contact.id}/export")).json()
    assert export["contact"]["processing"] == value


async def test_each_change_of_processing_is_audited_with_who_and_when(
    owner: Account, contact: Contact
) -> None:
    await set_processing(owner, contact, "restricted")
    await set_processing(owner, contact, "objected")
    await set_processing(owner, contact, "objected")  # no change: no entry
    entries = (await owner.get("/api/audit")).json()["items"]
    mine = [e for e in entries if e["target"]["id"] == contact.id]
    assert [e["action"] for e in mine] == [
        "contact_processing_objected",
        "contact_processing_restricted",
    ]
    assert all(
        (e["actor"]["kind"], e["actor"]["id"]) == ("operator", owner.operator_id) for e in mine
    )
    assert all(e["at"] for e in mine)


async def test_an_unknown_processing_value_is_refused_with_422(
    owner: Account, contact: Contact
) -> None:
    response = await owner.patch(f"/api/contacts/{contact.id}", json={"processing": "paused"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert (await owner.get(f"/api/contacts/{contact.id}")).json()["processing"] == "normal"


async def test_an_agent_may_restrict_a_contact(owner: Account, contact: Contact) -> None:
    agent = await add_operator(owner, "agent")
    try:
        response = await agent.patch(
            f"/api/contacts/{contact.id}", json={"processing": "restricted"}
        )
        assert response.status_code == 200, response.text
    finally:
        await agent.client.aclose()


async def test_a_restricted_contact_still_gets_the_operators_reply(
    owner: Account, contact: Contact
) -> None:
    await set_processing(owner, contact, "restricted")
    response = await reply(owner, contact)
    assert response.status_code == 201, response.text


async def test_an_objected_contact_gets_no_reply_without_confirmation(
    owner: Account, contact: Contact, engine: AsyncEngine
) -> None:
    await set_processing(owner, contact, "objected")
    response = await reply(owner, contact)
    assert response.status_code == 409
    assert response.json()["error"] == "contact_objected"
    async with engine.connect() as conn:
        texts = list(
            await conn.scalars(
                select(m.Message.text).where(m.Message.conversation_id == contact.conversation_id)
            )
        )
    assert texts == contact.texts  # nothing stored, nothing queued


async def test_an_objected_contact_gets_a_reply_the_operator_confirms(
    owner: Account, contact: Contact
) -> None:
    await set_processing(owner, contact, "objected")
    response = await reply(owner, contact, confirm_objection=True)
    assert response.status_code == 201, response.text


async def test_a_confirmation_that_is_not_a_boolean_is_refused_with_422(
    owner: Account, contact: Contact
) -> None:
    await set_processing(owner, contact, "objected")
    response = await reply(owner, contact, confirm_objection="yes")
    assert response.status_code == 422


async def test_an_objected_contact_gets_no_whatsapp_template_without_confirmation(
    owner: Account, contact: Contact
) -> None:
    await set_processing(owner, contact, "objected")
    url = f"/api/conversations/{contact.conversation_id}/template"
    template = {"name": "appointment_reminder", "language": "en_US"}
    refused = await owner.post(url, json=template)
    assert refused.status_code == 409
    assert refused.json()["error"] == "contact_objected"
    confirmed = await owner.post(url, json={**template, "confirm_objection": True})
    assert confirmed.status_code == 201, confirmed.text


async def test_the_operator_socket_refuses_a_send_to_an_objected_contact_unconfirmed(
    owner: Account, contact: Contact, live: LiveServer
) -> None:
    await set_processing(owner, contact, "objected")
    socket = await operator_socket(owner, live.ws_url)
    frame = {"type": "send", "conversation_id": contact.conversation_id, "text": "Hi"}
    await socket.send({**frame, "ref": "r1"})
    error = await socket.wait_for(ref="r1")
    assert (error["type"], error["code"]) == ("error", "contact_objected")
    await socket.send({**frame, "ref": "r2", "confirm_objection": True})
    ack = await socket.wait_for(ref="r2")
    assert ack["type"] == "ack"


async def test_the_operator_socket_sends_to_a_restricted_contact(
    owner: Account, contact: Contact, live: LiveServer
) -> None:
    await set_processing(owner, contact, "restricted")
    socket = await operator_socket(owner, live.ws_url)
    await socket.send(
        {"type": "send", "ref": "r1", "conversation_id": contact.conversation_id, "text": "Hi"}
    )
    assert (await socket.wait_for(ref="r1"))["type"] == "ack"
