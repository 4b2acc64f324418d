"""Everyday polish on the team's side, in Chromium: a 404 page with a way back, the audit
log with names, filters and CSV, the profile's sessions, and deleting then restoring a
workspace by its owner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.conftest import LiveServer
from tests.helpers import PASSWORD, login, new_client, signup
from web.auth.sessions import cookie_name

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"team-{name}.png"), full_page=True)


async def signed_in(context: Any, live: LiveServer, client: Any) -> None:
    name = cookie_name(live.settings)
    await context.add_cookies([{"name": name, "value": client.cookies[name], "url": live.url}])


async def test_a_missing_page_shows_a_404_page_that_leads_back(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http:
        await signup(http)
        await signed_in(context, live, http)
        page, _ = await open_page(context, f"{live.url}/inbox/does-not-exist")
        await expect(page.locator("#error-title")).to_have_text("Page not found")
        await shot(page, tmp_path, "404")
        await page.locator("#way-back").click()
        await page.wait_for_url(f"{live.url}/inbox")


async def test_the_owner_deletes_the_workspace_in_settings_and_restores_it_by_signing_in(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http:
        owner = await signup(http, workspace="Gone Soon")
        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/settings?tab=workspace")
        form = page.locator("#delete-workspace-form")
        await form.get_by_label("Your password").fill(PASSWORD)
        page.once("dialog", lambda dialog: dialog.accept())
        await shot(page, tmp_path, "delete-workspace")
        await form.get_by_role("button", name="Delete workspace").click()
        await page.wait_for_url("**/login?deleted=1")
        await expect(page.locator("#deleted-done")).to_be_visible()
        assert (await http.get("/api/me")).status_code == 401

        await page.get_by_label("Email").fill(owner.email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#restore-note")).to_contain_text("Gone Soon was deleted")
        await shot(page, tmp_path, "restore-offer")
        await page.get_by_role("button", name="Restore the workspace and sign in").click()
        await page.wait_for_url(f"{live.url}/inbox")
        await expect(page.locator("#workspace-name")).to_have_text("Gone Soon")
        # The one refusal expected: the first sign-in's 403 workspace_deleted.
        assert [p for p in watch.problems() if "status of 403" not in p] == []


async def test_the_audit_log_shows_names_filters_and_downloads_csv(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http:
        owner = await signup(http, name="Audrey Owner")
        await owner.post("/api/channels", {"kind": "custom", "name": "Shop SMS"})
        await owner.patch("/api/workspace", {"name": "Renamed Co"})
        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/settings?tab=audit")
        rows = page.locator("#audit-body tr")
        created = rows.filter(has_text="channel_created")
        await expect(created.locator(".audit-actor")).to_have_text("Audrey Owner")
        await expect(created.locator(".audit-target")).to_have_text("Shop SMS (channel)")
        await page.locator("#audit-filters").get_by_label("Action").fill("channel_created")
        await page.locator("#audit-filters").get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await shot(page, tmp_path, "audit")
        async with page.expect_download() as download_info:
            await page.locator("#audit-csv").click()
        download = await download_info.value
        text = Path(await download.path()).read_text()
        assert text.splitlines()[0].startswith("at,action,actor_kind")
        assert "Shop SMS" in text and "workspace_updated" not in text
        assert watch.problems() == []


async def test_the_profile_signs_out_everywhere_else(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http, new_client(live.url) as phone:
        owner = await signup(http, name="Pia Profile")
        await login(phone, owner.email)
        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/profile")
        await page.wait_for_url("**/settings?tab=profile")
        await expect(page.locator("#profile-avatar")).to_have_text("PP")
        await expect(page.locator("#sessions-body tr")).to_have_count(2)
        await page.locator("#profile-form").get_by_label("Your name").fill("Pia Renamed")
        await page.locator("#profile-form").get_by_role("button", name="Save name").click()
        await expect(page.locator("#operator-name")).to_have_text("Pia Renamed")
        await expect(page.locator("#profile-avatar")).to_have_text("PR")
        await shot(page, tmp_path, "profile")
        await page.get_by_role("button", name="Sign out everywhere else").click()
        await expect(page.locator("#sessions-body tr")).to_have_count(1)
        await expect(page.locator('#sessions-body tr[data-current="1"]')).to_have_count(1)
        assert (await phone.get("/api/me")).status_code == 401
        assert (await http.get("/api/me")).status_code == 200
        assert watch.problems() == []
