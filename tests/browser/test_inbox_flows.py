"""What a flow did, as operators see it in the inbox (issue 16): a compact system line per
step, and the options a bot message offered."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_inbox import Desk, desk  # noqa: F401 (the fixture)
from tests.web.test_flow_runs import publish

pytestmark = pytest.mark.browser

MENU: dict[str, Any] = {
    "pick": {
        "type": "choose",
        "text": "Sales or support?",
        "save_as": "vars.team",
        "options": [{"label": "Sales", "next": "pass"}, {"label": "Support", "next": "pass"}],
    },
    "pass": {"type": "handoff"},
}


async def test_the_thread_shows_the_bots_steps_and_the_options_it_offered(
    desk: Desk,  # noqa: F811
) -> None:
    await publish(desk.owner, MENU, "pick")
    sock, conversation_id = await desk.visitor("hi")
    page, watch = await desk.inbox(f"#{conversation_id}")
    line = page.locator("#message-list > li.system-line .text")
    await expect(line.first).to_have_text("Greeting: offered 2 options")
    offered = page.locator("#message-list li.author-bot .offered li")
    await expect(offered).to_have_text(["Sales", "Support"])
    await desk.say(sock, "2")
    await expect(line).to_have_text(
        [
            "Greeting: offered 2 options",
            "Greeting: picked 'Support'",
            "Greeting: saved vars.team",
            "Greeting: handed off",
        ]
    )
    assert watch.errors == []
