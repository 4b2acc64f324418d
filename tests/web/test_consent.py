"""Consent records: asked by the widget (off by default), recorded with time and text
version, exported, withdrawable by the visitor and by an operator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import utcnow
from storage.retention import purge_expired
from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, signup
from tests.web.realtime import ORIGIN, Widget, visitor_session, visitor_socket, widget_channel
from web.consent_gate import Questions

PURPOSE = "May we keep this chat to improve our service?"


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Account:
    return await signup(client)


async def ask(owner: Account, text: str = PURPOSE) -> dict[str, Any]:
    response = await owner.client.put(
        "/api/workspace/consent", json={"enabled": True, "text": text}, headers=owner.csrf
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def answer(owner: Account, token: str, granted: bool, version: Any) -> httpx.Response:
    return await owner.client.post(
        "/api/widget/consent",
        json={"visitor_token": token, "granted": granted, "version": version},
        headers={"Origin": ORIGIN},
    )


@pytest.fixture
async def widget(owner: Account) -> Widget:
    return await widget_channel(owner)


async def visitor(owner: Account) -> dict[str, Any]:
    """A new visitor on the workspace's (only) widget channel."""
    return await visitor_session(owner, await widget_channel(owner))


async def write_first(owner: Account, session: dict[str, Any]) -> None:
    """The visitor's first message: it creates the contact (nothing exists before it)."""
    socket = await visitor_socket(session["ws_url"])
    try:
        await socket.send({"type": "send", "ref": "first", "text": "Hello"})
        await socket.wait_for(type="ack", ref="first")
    finally:
        await socket.close()


async def contact_of(owner: Account, session: dict[str, Any]) -> dict[str, Any]:
    """The workspace's one contact; the visitor writes first when it does not exist yet."""
    listed = (await owner.get("/api/contacts")).json()["items"]
    if not listed:
        await write_first(owner, session)
        listed = (await owner.get("/api/contacts")).json()["items"]
    [only] = listed
    return dict((await owner.get(f"/api/contacts/{only['id']}")).json())


async def test_no_consent_is_asked_by_default(owner: Account) -> None:
    assert (await owner.get("/api/workspace/consent")).json() == {
        "enabled": False,
        "text": None,
        "version": 0,
    }
    session = await visitor(owner)
    assert session["consent"] == {"text": None, "version": 0, "granted": False}


async def test_the_widget_session_carries_the_question(owner: Account) -> None:
    question = await ask(owner)
    assert question == {"enabled": True, "text": PURPOSE, "version": 1}
    session = await visitor(owner)
    assert session["consent"] == {"text": PURPOSE, "version": 1, "granted": False}


async def test_an_answer_is_recorded_with_time_and_text_version_and_exported(
    owner: Account, widget: Widget
) -> None:
    await ask(owner)
    session = await visitor_session(owner, widget)
    response = await answer(owner, session["visitor_token"], True, 1)
    assert response.status_code == 201, response.text
    assert response.json()["granted"] is True and response.json()["at"]
    again = await visitor_session(owner, widget, session["visitor_token"])
    assert again["consent"]["granted"] is True
    contact = await contact_of(owner, session)
    assert contact["consent"]["version"] == 1 and contact["consent"]["text"] == PURPOSE
    export = (await owner.get(f"/api/contacts/{contact['id']}/export")).json()
    assert [(c["granted"], c["version"]) for c in export["consents"]] == [(True, 1)]


async def test_an_answer_before_the_first_message_waits_for_it_and_stores_no_contact(
    owner: Account, widget: Widget
) -> None:
    await ask(owner)
    session = await visitor_session(owner, widget)
    given = (await answer(owner, session["visitor_token"], True, 1)).json()
    assert (await owner.get("/api/contacts")).json()["items"] == []
    assert (await owner.get("/api/conversations")).json()["items"] == []
    await write_first(owner, session)
    [contact] = (await owner.get("/api/contacts")).json()["items"]
    export = (await owner.get(f"/api/contacts/{contact['id']}/export")).json()
    assert [(c["granted"], c["at"], c["source"]) for c in export["consents"]] == [
        (True, given["at"], "visitor")
    ]


async def test_the_visitor_withdraws_in_the_widget(owner: Account) -> None:
    await ask(owner)
    session = await visitor(owner)
    await answer(owner, session["visitor_token"], True, 1)
    await write_first(owner, session)
    withdrawn = await answer(owner, session["visitor_token"], False, None)
    assert withdrawn.status_code == 201
    contact = await contact_of(owner, session)
    assert contact["consent"]["granted"] is False
    export = (await owner.get(f"/api/contacts/{contact['id']}/export")).json()
    assert [c["granted"] for c in export["consents"]] == [True, False]


async def test_an_operator_records_a_withdrawal_audited(owner: Account) -> None:
    await ask(owner)
    session = await visitor(owner)
    await answer(owner, session["visitor_token"], True, 1)
    contact = await contact_of(owner, session)
    agent = await add_operator(owner, "agent")
    try:
        response = await agent.post(f"/api/contacts/{contact['id']}/consent/withdraw")
    finally:
        await agent.client.aclose()
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "operator"
    assert response.json()["operator_id"] == agent.operator_id
    assert (await contact_of(owner, session))["consent"]["granted"] is False
    entries = (await owner.get("/api/audit")).json()["items"]
    assert any(
        e["action"] == "consent_withdrawn" and e["target"]["id"] == contact["id"] for e in entries
    )


async def test_a_new_text_asks_again_and_an_old_yes_is_refused(
    owner: Account, widget: Widget
) -> None:
    await ask(owner)
    session = await visitor_session(owner, widget)
    await answer(owner, session["visitor_token"], True, 1)
    assert (await ask(owner, "A new purpose."))["version"] == 2
    again = await visitor_session(owner, widget, session["visitor_token"])
    assert again["consent"] == {"text": "A new purpose.", "version": 2, "granted": False}
    stale = await answer(owner, session["visitor_token"], True, 1)
    assert stale.status_code == 409 and stale.json()["error"] == "consent_outdated"


async def test_bad_answers_are_refused(owner: Account) -> None:
    await ask(owner)
    session = await visitor(owner)
    assert (await answer(owner, "forged", True, 1)).status_code == 403
    assert (await answer(owner, session["visitor_token"], "yes", 1)).status_code == 422


async def test_only_managers_change_the_question(owner: Account) -> None:
    agent = await add_operator(owner, "agent")
    try:
        response = await agent.client.put(
            "/api/workspace/consent", json={"enabled": True, "text": "x"}, headers=agent.csrf
        )
    finally:
        await agent.client.aclose()
    assert response.status_code == 403


async def test_an_erased_contact_leaves_no_consent_record(owner: Account) -> None:
    await ask(owner)
    session = await visitor(owner)
    await answer(owner, session["visitor_token"], True, 1)
    contact = await contact_of(owner, session)
    assert (await owner.delete(f"/api/contacts/{contact['id']}")).status_code == 204
    assert (await answer(owner, session["visitor_token"], False, None)).status_code == 403


async def test_an_answer_whose_visitor_never_writes_is_purged_after_30_days(
    owner: Account, widget: Widget, live: LiveServer
) -> None:
    await ask(owner)
    session = await visitor_session(owner, widget)
    await answer(owner, session["visitor_token"], True, 1)
    services: Any = live.app.state.services  # type: ignore[attr-defined]
    await purge_expired(services.engine, as_of=utcnow() + timedelta(days=29))
    assert (await visitor_session(owner, widget, session["visitor_token"]))["consent"]["granted"]
    later = await purge_expired(services.engine, as_of=utcnow() + timedelta(days=31))
    assert later.pending_consents >= 1
    again = await visitor_session(owner, widget, session["visitor_token"])
    assert again["consent"] == {"text": PURPOSE, "version": 1, "granted": False}


async def test_the_hub_refuses_a_message_before_a_yes_whatever_the_client(
    owner: Account, widget: Widget
) -> None:
    await ask(owner)
    session = await visitor_session(owner, widget)
    socket = await visitor_socket(session["ws_url"])
    try:
        await socket.send({"type": "send", "ref": "early", "text": "Hello"})
        refused = await socket.wait_for(type="error", ref="early")
        assert refused["code"] == "consent_required"
        assert (await owner.get("/api/conversations")).json()["items"] == []
        await answer(owner, session["visitor_token"], True, 1)
        await socket.send({"type": "send", "ref": "after", "text": "Hello"})
        assert (await socket.wait_for(type="ack", ref="after"))["message"]["text"] == "Hello"
    finally:
        await socket.close()


async def test_a_withdrawn_consent_closes_the_chat_again(owner: Account, widget: Widget) -> None:
    await ask(owner)
    session = await visitor_session(owner, widget)
    await answer(owner, session["visitor_token"], True, 1)
    await write_first(owner, session)
    await answer(owner, session["visitor_token"], False, None)
    socket = await visitor_socket(session["ws_url"])
    try:
        await socket.send({"type": "send", "ref": "again", "text": "Still there?"})
        assert (await socket.wait_for(type="error", ref="again"))["code"] == "consent_required"
    finally:
        await socket.close()


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine runs meanwhile."""
    ran: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        ran.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield ran
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_the_gate_reads_many_workspaces_questions_in_one_query(
    owner: Account, live: LiveServer
) -> None:
    await ask(owner)
    async with live.client() as other_client, live.client() as third_client:
        others = [await signup(other_client), await signup(third_client)]
    engine = live.app.state.services.engine  # type: ignore[attr-defined]
    questions = Questions(engine, ttl_s=60)
    ids = [owner.workspace["id"], *(o.workspace["id"] for o in others)]
    with statements(engine) as ran:
        asks = await asyncio.gather(*(questions.asks(ws) for ws in ids))
    assert asks == [True, False, False]
    assert len([s for s in ran if "consent_text" in s]) == 1


async def test_a_read_refreshes_every_workspace_asked_about_since_its_own(
    owner: Account, live: LiveServer
) -> None:
    """So busy workspaces come to be read together, once per period, not one by one."""
    async with live.client() as other_client:
        other = await signup(other_client)
    engine = live.app.state.services.engine  # type: ignore[attr-defined]
    questions = Questions(engine, ttl_s=60)
    assert not await questions.asks(owner.workspace["id"])
    assert not await questions.asks(owner.workspace["id"])  # known: asked about again
    await ask(owner)
    assert not await questions.asks(other.workspace["id"])  # read: both workspaces
    with statements(engine) as ran:
        assert await questions.asks(owner.workspace["id"])
    assert ran == []
