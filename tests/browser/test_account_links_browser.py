"""Invitations and password resets as people use them, through a real SMTP server: an owner
invites from Settings, the invitee opens the mailed link in Chromium and lands in the
inbox; an operator who forgot the password asks from the sign-in page and sets a new one
from the mailed link. A used link shows a page that says so."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.conftest import LiveServer, unique_email
from tests.helpers import PASSWORD, new_client, signup
from tests.smtp_sink import SmtpInbox, link_in
from web.auth.sessions import cookie_name

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a brand new passphrase"


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"account-links-{name}.png"), full_page=True)


async def test_an_owner_invites_from_settings_and_the_invitee_joins_from_the_mail(
    context: Any, browser: Any, mail_live: LiveServer, smtp_inbox: SmtpInbox, tmp_path: Path
) -> None:
    async with new_client(mail_live.url) as http:
        owner = await signup(http, workspace="Mailed Team")
        name = cookie_name(mail_live.settings)
        await context.add_cookies(
            [{"name": name, "value": http.cookies[name], "url": mail_live.url}]
        )
        page, watch = await open_page(context, f"{mail_live.url}/settings?tab=operators")
        invitee = unique_email()
        form = page.locator("#invite-form")
        await form.get_by_label("Email").fill(invitee)
        await form.get_by_label("Role").select_option("admin")
        await form.get_by_role("button", name="Send invitation").click()
        await expect(page.locator("#invite-result")).to_contain_text("was mailed to " + invitee)
        await expect(page.locator("#invites-body")).to_contain_text(invitee)
        await shot(page, tmp_path, "settings-invited")
        url = link_in(await smtp_inbox.wait_for(invitee), "/invite/")
        assert await page.locator("#invite-result input").input_value() == url
        assert watch.problems() == []

        guest_context = await browser.new_context()
        try:
            guest, guest_watch = await open_page(guest_context, url)
            await expect(guest.get_by_role("heading")).to_have_text("Join Mailed Team")
            await guest.get_by_label("Your name").fill("Ivy Invited")
            await guest.get_by_label("Password").fill(PASSWORD)
            await shot(guest, tmp_path, "invite-form")
            await guest.get_by_role("button", name="Join the team").click()
            await guest.wait_for_url(f"{mail_live.url}/inbox")
            await expect(guest.locator("#operator-name")).to_have_text("Ivy Invited")
            assert guest_watch.problems() == []
            again, _ = await open_page(guest_context, url)
            await expect(again.locator("#link-problem")).to_contain_text("already used")
            await shot(again, tmp_path, "invite-used")
        finally:
            await guest_context.close()
        operators = (await owner.get("/api/operators")).json()["items"]
        assert {"email": invitee, "role": "admin"} in [
            {"email": o["email"], "role": o["role"]} for o in operators
        ]


async def test_a_forgotten_password_is_reset_from_the_mailed_link(
    context: Any, mail_live: LiveServer, smtp_inbox: SmtpInbox, tmp_path: Path
) -> None:
    async with new_client(mail_live.url) as http:
        owner = await signup(http)
        page, watch = await open_page(context, f"{mail_live.url}/login")
        await page.get_by_role("link", name="Forgot your password?").click()
        await page.get_by_label("Email").fill(owner.email)
        await page.get_by_role("button", name="Mail me a link").click()
        await expect(page.locator("#form-done")).to_contain_text("If an account uses this address")
        await shot(page, tmp_path, "forgot-sent")
        url = link_in(await smtp_inbox.wait_for(owner.email), "/reset/")

        await page.goto(url)
        await page.get_by_label("New password").fill(NEW_PASSWORD)
        await shot(page, tmp_path, "reset-form")
        await page.get_by_role("button", name="Set password").click()
        await page.wait_for_url("**/login?reset=1")
        await expect(page.locator("#reset-done")).to_be_visible()
        await page.get_by_label("Email").fill(owner.email)
        await page.get_by_label("Password").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{mail_live.url}/inbox")
        assert watch.problems() == []
        assert (await http.get("/api/me")).status_code == 401  # the other session ended

        await page.goto(url)
        await expect(page.locator("#link-problem")).to_contain_text("already used")
        await shot(page, tmp_path, "reset-used")
