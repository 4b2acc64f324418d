"""The attack: a sign-in link whose ``next`` sends the operator, once signed in, to another
site (``/login?next=/%09/evil.example/`` used to land on ``http://evil.example/``).

Every payload is played in headless Chromium exactly as a victim would click it, and must
end on the hub. The "other site" is the host page server on loopback (a different
origin), so no test traffic leaves the machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import HostSite, open_page
from tests.conftest import LiveServer
from tests.helpers import PASSWORD, Account, new_client, signup
from web.pages import next_path

pytestmark = pytest.mark.browser

# Raw query values as they would stand in the link; EVIL is the other site's host:port.
PAYLOADS = [
    "/%09/EVIL/",
    "/%0a/EVIL/",
    "/%0d/EVIL/",
    "/%0d%0a/EVIL/",
    "//EVIL/",
    "/%2F/EVIL/",
    "%2F%2FEVIL/",
    "/%5cEVIL/",
    "/%5c%5cEVIL/",
    "%5c%5cEVIL/",
    "/%09%5cEVIL/",
    "/%5c%09/EVIL/",
    "http://EVIL/",
    "http:EVIL/",
    "http:/EVIL/",
    "https:EVIL/",
    "%20//EVIL/",
    "/.//EVIL/",
    "javascript:location='http://EVIL/'",
]


@pytest.fixture
async def operator(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client)


async def sign_in_through(context: Any, live: LiveServer, operator: Account, query: str) -> str:
    """Open ``/login?<query>``, sign in as a person would, and return where the page ends."""
    page, _ = await open_page(context, f"{live.url}/login?{query}")
    await page.get_by_label("Email").fill(operator.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/login" not in url)
    await page.wait_for_load_state()
    return str(page.url)


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_a_next_that_leaves_the_site_lands_in_the_inbox_instead(
    context: Any, live: LiveServer, operator: Account, host_site: HostSite, payload: str
) -> None:
    evil = host_site.origin.split("://", 1)[1]
    landed = await sign_in_through(context, live, operator, "next=" + payload.replace("EVIL", evil))
    assert landed.startswith(live.url + "/"), landed
    assert landed == live.url + "/inbox"


async def test_a_next_on_the_site_is_followed(
    context: Any, live: LiveServer, operator: Account
) -> None:
    landed = await sign_in_through(context, live, operator, "next=%2Fsettings%3Ftab%3Dsecurity")
    assert landed == live.url + "/settings?tab=security"


async def test_a_signed_in_visit_to_login_follows_only_a_next_on_the_site(
    context: Any, live: LiveServer, operator: Account, host_site: HostSite
) -> None:
    await sign_in_through(context, live, operator, "")
    page, _ = await open_page(context, f"{live.url}/login?next=%2Fsettings")
    await expect(page).to_have_url(live.url + "/settings")
    evil = host_site.origin.split("://", 1)[1]
    for payload in PAYLOADS:
        page, _ = await open_page(context, f"{live.url}/login?next={payload.replace('EVIL', evil)}")
        await expect(page).to_have_url(live.url + "/inbox")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/settings?tab=security", "/settings?tab=security"),
        ("/\t/evil.example/", "/inbox"),
        ("/\\evil.example", "/inbox"),
        ("//evil.example", "/inbox"),
        ("https:evil.example", "/inbox"),
        ("/.//evil.example/", "/inbox"),
        ("/\x7f/evil.example", "/inbox"),
        (None, "/inbox"),
    ],
)
def test_the_server_side_next_is_as_strict(raw: str | None, expected: str) -> None:
    assert next_path(raw) == expected
