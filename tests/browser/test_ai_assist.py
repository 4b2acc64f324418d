"""AI in the browser: Settings → AI (off by default, provider and region shown) and the
inbox's Summarise / Suggest reply, hidden while AI is off; a suggestion only fills the
reply box."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.conftest import LiveServer, make_settings, start_server
from tests.fake_ai import FakeAi, ok, running_fake_ai
from tests.helpers import Account, new_client, signup
from tests.web.test_ai import AI_ORIGIN, conversation
from web.auth.sessions import cookie_name

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeAi]:
    async with running_fake_ai() as fake:
        yield fake


@pytest.fixture(scope="module")
async def ai_live(db_url: str, fake: FakeAi) -> AsyncIterator[LiveServer]:
    settings = make_settings(
        db_url,
        provider_origins=((AI_ORIGIN, fake.url),),
        ai_base_url=f"{AI_ORIGIN}/v1",
        ai_api_key="sk-test-key",
        ai_model="gpt-test",
        ai_region="United States",
    )
    live, server, task = await start_server(settings)
    yield live
    server.should_exit = True
    await task


@pytest.fixture
async def owner(ai_live: LiveServer, context: Any) -> AsyncIterator[Account]:
    async with new_client(ai_live.url) as http:
        account = await signup(http)
        name = cookie_name(ai_live.settings)
        await context.add_cookies([{"name": name, "value": http.cookies[name], "url": ai_live.url}])
        yield account


async def test_settings_show_ai_off_with_its_provider_and_switch_it_on(
    owner: Account, ai_live: LiveServer, context: Any
) -> None:
    page, watch = await open_page(context, f"{ai_live.url}/settings?tab=ai")
    await expect(page.locator("#ai-provider")).to_have_text("ai.example.test")
    await expect(page.locator("#ai-region")).to_have_text("United States")
    await expect(page.locator("#ai-notice")).to_contain_text("placeholders")
    switch = page.locator('#ai-form input[name="ai_enabled"]')
    await expect(switch).not_to_be_checked()
    await switch.check()
    await page.locator("#ai-form button[type=submit]").click()
    await expect(page.locator(".toast.ok")).to_contain_text("AI is on.")
    assert (await owner.get("/api/workspace")).json()["ai_enabled"] is True
    assert watch.errors == []


async def test_settings_add_edit_and_delete_a_document_for_ai_replies(
    owner: Account, ai_live: LiveServer, context: Any
) -> None:
    page, watch = await open_page(context, f"{ai_live.url}/settings?tab=ai")
    form = page.locator("#ai-document-form")
    await form.locator('input[name="title"]').fill("Prices")
    await form.locator('textarea[name="text"]').fill("A haircut costs 30 euros.")
    await form.locator("button[type=submit]").click()
    card = page.locator("#ai-documents form")
    await expect(card).to_have_count(1)
    text = card.locator("textarea")
    await expect(text).to_have_value("A haircut costs 30 euros.")
    await text.fill("A haircut costs 35 euros.")
    await card.locator("button[type=submit]").click()
    await expect(page.locator(".toast.ok").last).to_contain_text("saved")
    (doc,) = (await owner.get("/api/ai/documents")).json()["items"]
    got = (await owner.get(f"/api/ai/documents/{doc['id']}")).json()
    assert (got["title"], got["text"]) == ("Prices", "A haircut costs 35 euros.")
    page.once("dialog", lambda dialog: dialog.accept())
    await card.locator("button.danger").click()
    await expect(page.locator("#ai-documents form")).to_have_count(0)
    assert (await owner.get("/api/ai/documents")).json()["items"] == []
    assert watch.errors == []


async def test_the_inbox_hides_ai_while_it_is_off(
    owner: Account, ai_live: LiveServer, context: Any
) -> None:
    ids = await conversation(owner, "Hello there")
    page, watch = await open_page(context, f"{ai_live.url}/inbox#{ids['id']}")
    await expect(page.locator("#reply")).to_be_visible()
    await expect(page.locator("#ai-assist")).to_be_hidden()
    assert watch.errors == []


async def test_a_suggested_reply_fills_the_box_and_is_not_sent(
    owner: Account, ai_live: LiveServer, context: Any, fake: FakeAi
) -> None:
    assert (await owner.patch("/api/workspace", {"ai_enabled": True})).status_code == 200
    ids = await conversation(owner, "Do you ship to Mostar?")
    fake.answer_with(ok({"reply": "Yes, we ship to Mostar."}))
    page, watch = await open_page(context, f"{ai_live.url}/inbox#{ids['id']}")
    await page.locator("#ai-suggest").click()
    await expect(page.locator("#reply")).to_have_value("Yes, we ship to Mostar.")
    await expect(page.locator("#ai-calls")).to_be_visible()
    await expect(page.locator("#ai-calls-list")).to_contain_text("suggest_reply")
    messages = (await owner.get(f"/api/conversations/{ids['id']}/messages")).json()["items"]
    assert [m["direction"] for m in messages] == ["in"]
    assert watch.errors == []
