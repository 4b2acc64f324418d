"""Optional AI (issue 18), against a fake OpenAI-compatible provider on loopback.

The hub is pointed at ``https://ai.example.test/v1``; ``INVIARO_PROVIDER_ORIGINS`` sends
that origin to the fake, which records every request it gets. So "nothing was sent"
is checked where it matters: at the provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.model import utcnow
from storage import models as m
from storage.retention import purge_expired
from tests.conftest import LiveServer, make_settings, start_server
from tests.fake_ai import FakeAi, Reply, ok, running_fake_ai
from tests.helpers import Account, add_operator, new_client, signup
from web import ai_steps
from web.services import Services

AI_ORIGIN = "https://ai.example.test"
LAST_MESSAGES = 4


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeAi]:
    async with running_fake_ai() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_fake(fake: FakeAi) -> None:
    fake.reset()


async def _server(db_url: str, fake: FakeAi, **ai: Any) -> AsyncIterator[LiveServer]:
    settings = make_settings(
        db_url, provider_origins=((AI_ORIGIN, fake.url),), ai_last_messages=LAST_MESSAGES, **ai
    )
    live, server, task = await start_server(settings)
    yield live
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def ai_live(db_url: str, fake: FakeAi) -> AsyncIterator[LiveServer]:
    """A server that names a provider (the fake)."""
    async for live in _server(
        db_url,
        fake,
        ai_base_url=f"{AI_ORIGIN}/v1",
        ai_api_key="sk-test-key",
        ai_model="gpt-test",
        ai_region="United States",
    ):
        yield live


@pytest.fixture(scope="module")
async def plain_live(db_url: str, fake: FakeAi) -> AsyncIterator[LiveServer]:
    """A server that names no provider (even though the fake is reachable)."""
    async for live in _server(db_url, fake):
        yield live


@pytest.fixture
async def owner(ai_live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(ai_live.url) as client:
        yield await signup(client)


async def ai_on(owner: Account, **more: Any) -> None:
    response = await owner.patch("/api/workspace", {"ai_enabled": True, **more})
    assert response.status_code == 200, response.text


async def conversation(owner: Account, *texts: str) -> dict[str, str]:
    """A contact's messages through a custom channel; its conversation and contact ids."""
    response = await owner.post("/api/channels", {"kind": "custom", "name": "Shop", "config": {}})
    assert response.status_code == 201, response.text
    channel = response.json()
    messages = [
        {"external_id": f"m{i}", "contact": {"external_id": "c1", "name": "Jane Roe"}, "text": t}
        for i, t in enumerate(texts)
    ]
    response = await owner.client.post(
        f"/api/ingest/{channel['id']}",
        json={"messages": messages},
        headers={"Authorization": f"Bearer {channel['ingest_token']}"},
    )
    assert response.status_code == 202, response.text
    conversation_id = response.json()["accepted"][0]["conversation_id"]
    got = await owner.get(f"/api/conversations/{conversation_id}")
    return {"id": conversation_id, "contact": got.json()["contact"]["id"]}


def services_of(live: LiveServer) -> Services:
    return live.app.state.services  # type: ignore[attr-defined, no-any-return]


# Off by default, two keys ---------------------------------------------------------------


async def test_ai_is_off_by_default_and_the_provider_and_region_are_shown(
    owner: Account,
) -> None:
    workspace = (await owner.get("/api/workspace")).json()
    assert workspace["ai_enabled"] is False
    assert workspace["ai_provider"] == {
        "host": "ai.example.test",
        "model": "gpt-test",
        "region": "United States",
    }


async def test_without_a_server_provider_ai_cannot_be_switched_on_and_nothing_is_sent(
    plain_live: LiveServer, fake: FakeAi
) -> None:
    async with new_client(plain_live.url) as client:
        owner = await signup(client)
        ids = await conversation(owner, "Hello, my email is jane@example.com")
        response = await owner.patch("/api/workspace", {"ai_enabled": True})
        assert response.status_code == 422
        assert response.json()["error"] == "ai_unavailable"
        assert (await owner.get("/api/workspace")).json()["ai_provider"] is None
        summary = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
        assert summary.status_code == 422 and summary.json()["error"] == "ai_unavailable"
    assert fake.requests == []


async def test_with_ai_off_for_the_workspace_no_request_leaves(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    ids = await conversation(owner, "Where is my order?")
    fake.default = lambda _body: ok({"summary": "never"})
    for path in ("ai/summary", "ai/suggest-reply"):
        response = await owner.post(f"/api/conversations/{ids['id']}/{path}")
        assert response.status_code == 422 and response.json()["error"] == "ai_off"
    place = ai_steps.Place(owner.workspace_id, ids["id"], "sort")
    step = ai_steps.AiClassify(labels=["order"], cases={"order": "a"}, else_="human")
    outcome = await ai_steps.classify(services_of(ai_live), place, step)
    assert outcome.next == "human" and outcome.call_id is None
    assert fake.requests == []
    assert (await owner.get(f"/api/conversations/{ids['id']}/ai-calls")).json()["items"] == []


async def test_only_an_owner_switches_ai_on_and_it_is_audited(
    owner: Account, ai_live: LiveServer
) -> None:
    admin = await add_operator(owner, "admin", ai_live.url)
    refused = await admin.patch("/api/workspace", {"ai_enabled": True})
    await admin.client.aclose()
    assert refused.status_code == 403
    await ai_on(owner)
    assert (await owner.get("/api/workspace")).json()["ai_enabled"] is True
    actions = [e["action"] for e in (await owner.get("/api/audit")).json()["items"]]
    assert "ai_enabled" in actions


# What is sent ---------------------------------------------------------------------------


async def test_a_summary_sends_only_the_last_messages_with_details_replaced(
    owner: Account, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(
        owner,
        "first message, too old to be sent",
        "Hi, I am Jane, write to jane.roe@example.com",
        "or call me on +387 61 123 456",
        "my card is 4111 1111 1111 1111",
        "where is order A-1002?",
    )
    fake.answer_with(ok({"summary": "Customer asks about order A-1002; email [email_1]."}))
    response = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
    assert response.status_code == 200, response.text
    # The operator reads the details back; the provider never saw them.
    assert response.json()["summary"] == (
        "Customer asks about order A-1002; email jane.roe@example.com."
    )
    sent = fake.sent_text()
    for secret in ("jane.roe@example.com", "123 456", "4111", "too old", ids["contact"]):
        assert secret not in sent
    assert "[email_1]" in sent and "[phone_1]" in sent and "[card_1]" in sent
    (request,) = fake.requests
    assert request["model"] == "gpt-test"
    assert request["response_format"] == {"type": "json_object"}
    contact_turns = [t for t in request["messages"] if t["role"] == "user"]
    assert len(contact_turns) == LAST_MESSAGES
    assert fake.paths == ["/v1/chat/completions"]
    assert fake.headers[0]["authorization"] == "Bearer sk-test-key"


async def test_a_private_note_never_reaches_the_provider(owner: Account, fake: FakeAi) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Do you ship to Sarajevo?")
    note = await owner.post(
        f"/api/conversations/{ids['id']}/messages",
        {"text": "Internal: this customer owes us 300 EUR", "private": True},
    )
    assert note.status_code in (200, 201), note.text
    fake.answer_with(ok({"summary": "Asks about shipping to Sarajevo."}))
    response = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
    assert response.status_code == 200, response.text
    assert "Sarajevo" in fake.sent_text() and "owes us" not in fake.sent_text()


async def test_a_suggested_reply_goes_to_the_operator_only(owner: Account, fake: FakeAi) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Do you ship to Sarajevo?")
    fake.answer_with(ok({"reply": "Yes, we ship to Sarajevo within 3 days."}))
    response = await owner.post(
        f"/api/conversations/{ids['id']}/ai/suggest-reply", {"hint": "be brief"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "Yes, we ship to Sarajevo within 3 days."
    messages = (await owner.get(f"/api/conversations/{ids['id']}/messages")).json()["items"]
    assert [m["direction"] for m in messages] == ["in"]
    assert "be brief" in fake.sent_text()


async def test_a_suggest_reply_body_with_an_unknown_field_is_a_422(owner: Account) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello")
    response = await owner.post(f"/api/conversations/{ids['id']}/ai/suggest-reply", {"x": 1})
    assert response.status_code == 422 and response.json()["error"] == "invalid"


async def test_the_call_log_shows_what_was_sent_and_answered(owner: Account, fake: FakeAi) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello, call me at 061 123 4567")
    fake.answer_with(ok({"summary": "A greeting."}, prompt_tokens=33, completion_tokens=7))
    assert (await owner.post(f"/api/conversations/{ids['id']}/ai/summary")).status_code == 200
    (call,) = (await owner.get(f"/api/conversations/{ids['id']}/ai-calls")).json()["items"]
    assert call["sent"] == fake.requests[0]["messages"]
    assert call["answer"] == '{"summary":"A greeting."}'
    assert call["feature"] == "summary" and call["outcome"] == "ok"
    assert (call["prompt_tokens"], call["completion_tokens"]) == (33, 7)
    assert call["model"] == "gpt-test" and call["latency_ms"] >= 0


async def test_another_workspace_cannot_read_the_call_log(
    owner: Account, ai_live: LiveServer
) -> None:
    ids = await conversation(owner, "Hello")
    async with new_client(ai_live.url) as client:
        stranger = await signup(client)
        response = await stranger.get(f"/api/conversations/{ids['id']}/ai-calls")
        assert response.status_code == 404


# Robust ---------------------------------------------------------------------------------


async def test_a_429_is_retried_and_then_answered(owner: Account, fake: FakeAi) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello")
    fake.answer_with(Reply(429, "slow down", {"retry-after": "0"}), ok({"summary": "A greeting."}))
    response = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
    assert response.status_code == 200, response.text
    assert len(fake.requests) == 2


async def test_a_failing_provider_is_tried_a_bounded_number_of_times(
    owner: Account, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello")
    response = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
    assert response.status_code == 502 and response.json()["error"] == "ai_failed"
    assert len(fake.requests) == 3
    (call,) = (await owner.get(f"/api/conversations/{ids['id']}/ai-calls")).json()["items"]
    assert call["outcome"] == "failed" and "HTTP 500" in call["detail"]


async def test_a_client_error_is_not_retried(owner: Account, fake: FakeAi) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello")
    fake.answer_with(Reply(401, "bad key"))
    response = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
    assert response.status_code == 502
    assert len(fake.requests) == 1


async def test_invalid_json_from_the_model_is_a_clear_failure(owner: Account, fake: FakeAi) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello")
    fake.answer_with(ok("Sure! Here is a summary: hello"))
    response = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
    assert response.status_code == 502
    assert "not valid JSON" in response.json()["detail"]


# Budget and erasure ---------------------------------------------------------------------


async def test_the_monthly_budget_stops_calls_with_a_reason(owner: Account, fake: FakeAi) -> None:
    await ai_on(owner, ai_monthly_tokens=50)
    ids = await conversation(owner, "Hello")
    fake.default = lambda _body: ok({"summary": "A greeting."}, 40, 10)
    first = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
    assert first.status_code == 200
    second = await owner.post(f"/api/conversations/{ids['id']}/ai/summary")
    assert second.status_code == 429
    assert second.json()["error"] == "ai_budget_spent"
    assert "50 tokens" in second.json()["detail"]
    assert len(fake.requests) == 1
    calls = (await owner.get(f"/api/conversations/{ids['id']}/ai-calls")).json()["items"]
    assert [c["outcome"] for c in calls] == ["ok", "ai_budget_spent"]
    assert calls[1]["sent"] == []


async def test_erasing_the_contact_erases_its_ai_records(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello")
    fake.answer_with(ok({"summary": "A greeting."}))
    assert (await owner.post(f"/api/conversations/{ids['id']}/ai/summary")).status_code == 200
    assert (await owner.delete(f"/api/contacts/{ids['contact']}")).status_code == 204
    async with services_of(ai_live).db() as db:
        left = await db.scalar(
            select(func.count()).select_from(m.AiCall).where(m.AiCall.conversation_id == ids["id"])
        )
    assert left == 0


# The Studio steps -------------------------------------------------------------------------


async def test_ai_classify_branches_on_the_label(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "I want my money back")
    fake.answer_with(ok({"label": "refund", "confidence": 0.92}))
    step = ai_steps.AiClassify(
        labels=["order", "refund"],
        cases={"order": "orders", "refund": "refunds"},
        else_="human",
        save_as="vars.topic",
    )
    place = ai_steps.Place(owner.workspace_id, ids["id"], "sort")
    outcome = await ai_steps.classify(services_of(ai_live), place, step)
    assert outcome.next == "refunds"
    assert outcome.saves == {"vars.topic": "refund"}
    assert '"refund"' in fake.requests[0]["messages"][0]["content"]


async def test_ai_classify_takes_else_for_a_label_it_was_not_given(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Tell me a joke")
    fake.answer_with(ok({"label": "jokes", "confidence": 0.99}))
    step = ai_steps.AiClassify(labels=["order"], cases={"order": "orders"}, else_="human")
    place = ai_steps.Place(owner.workspace_id, ids["id"], "sort")
    outcome = await ai_steps.classify(services_of(ai_live), place, step)
    assert outcome.next == "human"
    calls = (await owner.get(f"/api/conversations/{ids['id']}/ai-calls")).json()["items"]
    assert calls[0]["outcome"] == "invalid" and calls[0]["step"] == "sort"


async def test_ai_extract_saves_the_fields_and_restores_placeholders_locally(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Order A-1002 please, reach me at jane@example.com")
    fake.answer_with(ok({"order": "A-1002", "email": "[email_1]", "when": "2026-12-24"}))
    step = ai_steps.AiExtract(
        fields={"order": "text", "email": "email", "when": "date"}, next="thanks", on_fail="ask"
    )
    place = ai_steps.Place(owner.workspace_id, ids["id"], "read")
    outcome = await ai_steps.extract(services_of(ai_live), place, step)
    assert outcome.next == "thanks"
    assert outcome.saves == {
        "vars.order": "A-1002",
        "vars.email": "jane@example.com",
        "vars.when": "2026-12-24",
    }
    assert "jane@example.com" not in fake.sent_text()


async def test_ai_extract_takes_on_fail_for_an_invalid_field(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Soon, maybe")
    fake.answer_with(ok({"when": "next week sometime"}))
    step = ai_steps.AiExtract(fields={"when": "date"}, next="thanks", on_fail="ask")
    place = ai_steps.Place(owner.workspace_id, ids["id"], "read")
    outcome = await ai_steps.extract(services_of(ai_live), place, step)
    assert outcome.next == "ask" and outcome.saves == {}


KNOWLEDGE = [
    ai_steps.Knowledge(q="Opening hours?", a="We are open 9 to 17, Monday to Friday."),
    ai_steps.Knowledge(q="Do you ship abroad?", a="Yes, to every EU country."),
]


async def test_ai_reply_answers_from_the_knowledge(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "When are you open?")
    fake.answer_with(
        ok({"answer": "We are open 9 to 17, Mon-Fri.", "sources": [1], "confident": True})
    )
    step = ai_steps.AiReply(knowledge=KNOWLEDGE, next="done", on_unsure="human")
    place = ai_steps.Place(owner.workspace_id, ids["id"], "answer")
    outcome = await ai_steps.reply(services_of(ai_live), place, step)
    assert outcome.next == "done"
    assert outcome.say == "We are open 9 to 17, Mon-Fri."
    assert "Yes, to every EU country." in fake.requests[0]["messages"][0]["content"]


@pytest.mark.parametrize(
    "answer",
    [
        {"answer": "I think maybe Sundays?", "sources": [1], "confident": False},
        {"answer": "We sell gift cards.", "sources": [], "confident": True},
        {"answer": "We sell gift cards.", "sources": [7], "confident": True},
        {"answer": "Yes.", "sources": [2], "confident": True, "confidence": 0.2},
    ],
    ids=["not-confident", "no-source", "unknown-source", "low-confidence"],
)
async def test_ai_reply_hands_off_when_unsure_or_not_grounded(
    owner: Account, ai_live: LiveServer, fake: FakeAi, answer: dict[str, Any]
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Do you sell gift cards?")
    fake.answer_with(ok(answer))
    step = ai_steps.AiReply(knowledge=KNOWLEDGE, next="done", on_unsure="human")
    place = ai_steps.Place(owner.workspace_id, ids["id"], "answer")
    outcome = await ai_steps.reply(services_of(ai_live), place, step)
    assert outcome.next == "human" and outcome.say is None
    assert "not confident" in outcome.note


async def test_a_provider_error_takes_the_fallback_and_never_raises(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello")
    step = ai_steps.AiReply(knowledge=KNOWLEDGE, next="done", on_unsure="human")
    place = ai_steps.Place(owner.workspace_id, ids["id"], "answer")
    outcome = await ai_steps.reply(services_of(ai_live), place, step)
    assert outcome.next == "human"
    assert "HTTP 500" in outcome.note and outcome.call_id is not None


async def test_ai_records_share_their_conversations_retention(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    assert (await owner.patch("/api/workspace", {"retention_days": 1})).status_code == 200
    ids = await conversation(owner, "Hello")
    fake.answer_with(ok({"summary": "A greeting."}))
    assert (await owner.post(f"/api/conversations/{ids['id']}/ai/summary")).status_code == 200
    await purge_expired(services_of(ai_live).engine, as_of=utcnow() + timedelta(days=3))
    async with services_of(ai_live).db() as db:
        left = await db.scalar(
            select(func.count()).select_from(m.AiCall).where(m.AiCall.conversation_id == ids["id"])
        )
    assert left == 0


async def test_calls_and_their_latency_are_in_the_metrics(
    owner: Account, ai_live: LiveServer, fake: FakeAi
) -> None:
    await ai_on(owner)
    ids = await conversation(owner, "Hello")
    fake.answer_with(ok({"summary": "A greeting."}))
    assert (await owner.post(f"/api/conversations/{ids['id']}/ai/summary")).status_code == 200
    text = (await owner.get("/metrics")).text
    assert 'inviaro_ai_calls_total{feature="summary",outcome="ok"}' in text
    assert 'inviaro_ai_call_seconds_count{feature="summary"}' in text
