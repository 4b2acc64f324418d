"""Contact fields prefilled from identities, in Chromium: a WhatsApp contact with no phone
yet shows their WhatsApp number in Phone, and Save contact keeps it; a phone the
operator typed is never replaced."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.browser.test_inbox_day import signed_in
from tests.conftest import LiveServer
from tests.helpers import new_client, signup
from tests.web.test_webhooks import Hub, post_meta, unique, wa_message

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"contact-{name}.png"))


async def test_a_whatsapp_number_fills_phone_and_save_keeps_it(
    context: Any, live: LiveServer, tmp_path: Path
) -> None:
    async with new_client(live.url) as http:
        hub = Hub(live, await signup(http))
        channel = await hub.channel("whatsapp", phone_number_id=unique("10"))
        sender = "4917" + "".join(secrets.choice("0123456789") for _ in range(8))
        data = wa_message("wa_text.json", wamid=unique("wamid."), sender=sender)
        assert (await post_meta(hub, channel, data)).status_code == 200
        [inbound] = await hub.messages(channel)
        conv = (await hub.owner.get(f"/api/conversations/{inbound.conversation_id}")).json()
        contact_url = f"/api/contacts/{conv['contact']['id']}"
        assert (await hub.owner.get(contact_url)).json()["phone"] is None

        await signed_in(context, live, http)
        page, watch = await open_page(context, f"{live.url}/inbox#{inbound.conversation_id}")
        phone = page.locator('#contact-form input[name="phone"]')
        await expect(phone).to_have_value("+" + sender)
        await shot(page, tmp_path, "phone-prefilled")
        await page.locator("#contact-form").get_by_role("button", name="Save contact").click()
        await expect(page.locator(".toast.ok")).to_contain_text("Contact saved.")
        assert (await hub.owner.get(contact_url)).json()["phone"] == "+" + sender

        await phone.fill("+387 61 000 111")
        await page.locator("#contact-form").get_by_role("button", name="Save contact").click()
        await expect(page.locator(".toast.ok").last).to_contain_text("Contact saved.")
        await page.reload()
        await expect(phone).to_have_value("+387 61 000 111")
        assert watch.problems() == []
