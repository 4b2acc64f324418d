"""The AI steps inside real flow runs (issue 18): published only while AI is on, branching,
saving and answering through the flow runner, against the fake provider on loopback; a
restricted contact is never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fake_ai import FakeAi, ok, running_fake_ai
from tests.helpers import Account, new_client, signup
from tests.web.test_ai import AI_ORIGIN, services_of
from tests.web.test_flow_runs import bot_texts, custom_channel, publish, runner, runs
from tests.web.webhook_hub import Hub, hub_server
from web import ai_steps


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeAi]:
    async with running_fake_ai() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_fake(fake: FakeAi) -> None:
    fake.reset()


@pytest.fixture(scope="module")
async def hub(db_url: str, fake: FakeAi) -> AsyncIterator[Hub]:
    async with hub_server(
        db_url,
        provider_origins=((AI_ORIGIN, fake.url),),
        ai_base_url=f"{AI_ORIGIN}/v1",
        ai_api_key="sk-test-key",
        ai_model="gpt-test",
    ) as started:
        yield started


@pytest.fixture
async def owner(hub: Hub) -> AsyncIterator[Account]:
    async with new_client(hub.live.url) as client:
        yield await signup(client)


async def ai_on(owner: Account) -> None:
    response = await owner.patch("/api/workspace", {"ai_enabled": True})
    assert response.status_code == 200, response.text


STEPS: dict[str, Any] = {
    "sort": {
        "type": "ai_classify",
        "labels": ["refund", "order"],
        "cases": {"refund": "refund", "order": "read"},
        "else": "human",
        "save_as": "vars.topic",
    },
    "refund": {"type": "send", "text": "Refunds take five days ({{vars.topic}})."},
    "read": {
        "type": "ai_extract",
        "fields": {"order": "text"},
        "next": "found",
        "on_fail": "human",
    },
    "found": {"type": "send", "text": "Looking up order {{vars.order}}."},
    "human": {"type": "handoff"},
}
REPLY_STEPS: dict[str, Any] = {
    "answer": {
        "type": "ai_reply",
        "knowledge": [{"q": "Opening hours?", "a": "We are open 9 to 17, Monday to Friday."}],
        "next": "done",
        "on_unsure": "human",
    },
    "done": {"type": "end"},
    "human": {"type": "handoff"},
}


async def first_message(owner: Account, hub: Hub, text: str) -> str:
    shop = await custom_channel(owner)
    accepted = await shop.deliver("m-1", text)
    await runner(hub.live).idle()
    return str(accepted["conversation_id"])


async def test_a_flow_with_an_ai_step_is_refused_at_publish_while_ai_is_off(
    owner: Account,
) -> None:
    body = {
        "name": "AI",
        "trigger": {"on": "conversation_started"},
        "start": "sort",
        "steps": STEPS,
    }
    flow = (await owner.post("/api/flows", body)).json()
    response = await owner.post(f"/api/flows/{flow['id']}/publish")
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert {p["step"] for p in problems} == {"sort", "read"}
    assert "ai" in problems[0]["detail"]


async def test_ai_classify_branches_the_run(owner: Account, hub: Hub, fake: FakeAi) -> None:
    await ai_on(owner)
    await publish(owner, STEPS, "sort")
    fake.answer_with(ok({"label": "refund", "confidence": 0.9}))
    conv = await first_message(owner, hub, "I want my money back")
    assert await bot_texts(owner, conv) == ["Refunds take five days (refund)."]
    (run,) = await runs(owner, conv)
    assert run["status"] == "done"
    assert any("refund" in s["outcome"] for s in run["steps"] if s["step"] == "sort")


async def test_ai_extract_saves_the_field_for_later_steps(
    owner: Account, hub: Hub, fake: FakeAi
) -> None:
    await ai_on(owner)
    await publish(owner, STEPS, "sort")
    fake.answer_with(ok({"label": "order", "confidence": 0.9}), ok({"order": "A-17"}))
    conv = await first_message(owner, hub, "Where is order A-17?")
    assert await bot_texts(owner, conv) == ["Looking up order A-17."]
    assert len(fake.requests) == 2


async def test_ai_reply_answers_from_the_knowledge(owner: Account, hub: Hub, fake: FakeAi) -> None:
    await ai_on(owner)
    await publish(owner, REPLY_STEPS, "answer")
    fake.answer_with(
        ok({"answer": "We are open 9 to 17, Mon-Fri.", "sources": [1], "confident": True})
    )
    conv = await first_message(owner, hub, "When are you open?")
    assert await bot_texts(owner, conv) == ["We are open 9 to 17, Mon-Fri."]


async def test_ai_reply_hands_off_when_unsure(owner: Account, hub: Hub, fake: FakeAi) -> None:
    await ai_on(owner)
    await publish(owner, REPLY_STEPS, "answer")
    fake.answer_with(ok({"answer": "Maybe?", "sources": [], "confident": False}))
    conv = await first_message(owner, hub, "Do you sell gift cards?")
    assert await bot_texts(owner, conv) == []
    (run,) = await runs(owner, conv)
    assert run["status"] == "handed_off"


async def test_a_provider_error_takes_the_fallback_and_the_run_goes_on(
    owner: Account, hub: Hub, fake: FakeAi
) -> None:
    await ai_on(owner)
    await publish(owner, STEPS, "sort")
    conv = await first_message(owner, hub, "Hello")  # the fake answers 500
    (run,) = await runs(owner, conv)
    assert run["status"] == "handed_off"
    assert len(fake.requests) == 3
    calls = (await owner.get(f"/api/conversations/{conv}/ai-calls")).json()["items"]
    assert calls[0]["outcome"] == "failed" and calls[0]["step"] == "sort"


async def test_a_restricted_contact_is_never_sent(owner: Account, hub: Hub, fake: FakeAi) -> None:
    await ai_on(owner)
    conv = await first_message(owner, hub, "My email is jane@example.com")
    contact = (await owner.get(f"/api/conversations/{conv}")).json()["contact"]["id"]
    restricted = await owner.patch(f"/api/contacts/{contact}", {"processing": "restricted"})
    assert restricted.status_code == 200, restricted.text
    fake.default = lambda _body: ok({"summary": "never", "label": "refund", "confidence": 1})
    summary = await owner.post(f"/api/conversations/{conv}/ai/summary")
    assert summary.status_code == 409 and summary.json()["error"] == "contact_restricted"
    step = ai_steps.AiClassify(labels=["refund"], cases={"refund": "r"}, else_="human")
    place = ai_steps.Place(owner.workspace_id, conv, "sort")
    outcome = await ai_steps.classify(services_of(hub.live), place, step)
    assert outcome.next == "human"
    assert fake.requests == []
    calls = (await owner.get(f"/api/conversations/{conv}/ai-calls")).json()["items"]
    assert [c["outcome"] for c in calls] == ["contact_restricted", "contact_restricted"]
    assert all(c["sent"] == [] for c in calls)


DOCUMENT_STEPS: dict[str, Any] = {
    "answer": {"type": "ai_reply", "next": "done", "on_unsure": "human"},
    "done": {"type": "end"},
    "human": {"type": "handoff"},
}


async def add_documents(owner: Account) -> None:
    for title, text in (
        ("Prices", "A haircut costs 30 euros.\n\nColouring costs 60 euros and takes two hours."),
        ("Parking", "Free parking behind the salon, entrance from Mill Street."),
    ):
        response = await owner.post("/api/ai/documents", {"title": title, "text": text})
        assert response.status_code == 201, response.text


async def test_ai_reply_answers_from_the_workspaces_documents(
    owner: Account, hub: Hub, fake: FakeAi
) -> None:
    await ai_on(owner)
    await add_documents(owner)
    await publish(owner, DOCUMENT_STEPS, "answer")
    fake.answer_with(ok({"answer": "Colouring is 60 euros.", "sources": [1], "confident": True}))
    conv = await first_message(owner, hub, "How much does colouring cost?")
    assert await bot_texts(owner, conv) == ["Colouring is 60 euros."]
    (request,) = fake.requests
    instruction = request["messages"][0]["content"]
    assert 'From the document "Prices"' in instruction and "60 euros" in instruction
    assert "Mill Street" not in fake.sent_text()  # only the passages that match are sent


async def test_ai_reply_hands_off_without_asking_when_no_document_matches(
    owner: Account, hub: Hub, fake: FakeAi
) -> None:
    await ai_on(owner)
    await add_documents(owner)
    await publish(owner, DOCUMENT_STEPS, "answer")
    conv = await first_message(owner, hub, "Do you sell gift vouchers?")
    assert await bot_texts(owner, conv) == []
    (run,) = await runs(owner, conv)
    assert run["status"] == "handed_off"
    assert fake.requests == []


async def test_ai_reply_hands_off_when_the_answer_names_no_passage_it_used(
    owner: Account, hub: Hub, fake: FakeAi
) -> None:
    await ai_on(owner)
    await add_documents(owner)
    await publish(owner, DOCUMENT_STEPS, "answer")
    fake.answer_with(ok({"answer": "Colouring is free!", "sources": [7], "confident": True}))
    conv = await first_message(owner, hub, "How much does colouring cost?")
    assert await bot_texts(owner, conv) == []
    (run,) = await runs(owner, conv)
    assert run["status"] == "handed_off"


async def test_an_ai_reply_with_nothing_to_answer_from_cannot_be_saved(owner: Account) -> None:
    steps = {**DOCUMENT_STEPS, "answer": {**DOCUMENT_STEPS["answer"], "documents": False}}
    response = await owner.post(
        "/api/flows/validate",
        {"name": "x", "trigger": {"on": "conversation_started"}, "start": "answer", "steps": steps},
    )
    problems = response.json()["problems"]
    assert [p["step"] for p in problems] == ["answer"]
    assert "nothing to answer from" in problems[0]["detail"]
