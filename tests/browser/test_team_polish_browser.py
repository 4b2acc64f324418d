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
from tests.helpers import new_client, signup
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
