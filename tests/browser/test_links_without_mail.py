"""Without SMTP configured, in Chromium: an owner invites a colleague and makes a reset link
for another from Settings, copies each link from the page, and the links open their forms.
(The CLI printing them: tests/web/test_password_reset.py.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.browser.test_inbox_day import signed_in
from tests.conftest import LiveServer, unique_email
from tests.helpers import add_operator, new_client, signup

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"no-mail-{name}.png"), full_page=True)


async def copied(page: Any) -> str:
    """Click the result's Copy link and answer what reached the clipboard."""
    await page.locator("#invite-result").get_by_role("button", name="Copy link").click()
    await expect(page.locator(".toast.ok").last).to_contain_text("Copied.")
    return str(await page.evaluate("navigator.clipboard.readText()"))


async def test_an_owner_copies_invite_and_reset_links_from_settings_without_mail(
    browser: Any, context: Any, live: LiveServer, tmp_path: Path
) -> None:
    assert not live.settings.mail_configured
    async with new_client(live.url) as http:
        owner = await signup(http, workspace="No Mail Team")
        agent = await add_operator(owner, "agent")
        await agent.client.aclose()
        await signed_in(context, live, http)
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
        page, watch = await open_page(context, f"{live.url}/settings?tab=operators")

        invitee = unique_email()
        form = page.locator("#invite-form")
        await form.get_by_label("Email").fill(invitee)
        await form.get_by_role("button", name="Send invitation").click()
        result = page.locator("#invite-result")
        await expect(result).to_contain_text("Mail is not set up on this server")
        invite_url = await result.locator("input").input_value()
        assert invite_url.startswith(live.settings.public_url + "/invite/")
        assert await copied(page) == invite_url
        await shot(page, tmp_path, "invite-link")

        row = page.locator("#operators-body tr").filter(has_text=agent.email)
        await row.get_by_role("button", name="Reset link").click()
        await expect(result).to_contain_text("A password-reset link for Agent Person")
        reset_url = await result.locator("input").input_value()
        assert reset_url.startswith(live.settings.public_url + "/reset/")
        assert await copied(page) == reset_url
        await shot(page, tmp_path, "reset-link")
        assert watch.problems() == []

    guest_context = await browser.new_context()
    try:
        invite, _ = await open_page(guest_context, invite_url)
        await expect(invite.get_by_role("heading")).to_have_text("Join No Mail Team")
        reset, _ = await open_page(guest_context, reset_url)
        await expect(reset.get_by_role("heading")).to_have_text("Set a new password")
    finally:
        await guest_context.close()
