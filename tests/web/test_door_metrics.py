"""A channel webhook is timed under its channel's kind, beside the ingest and API doors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.web.test_ingest import sample
from tests.web.webhook_hub import Hub, hub_server, post_meta, unique, wa_message


@pytest.fixture
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started


async def test_a_whatsapp_webhook_is_timed_under_webhook_whatsapp(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    name = "inviaro_http_request_seconds_count"
    async with hub.live.client() as client:
        before = sample((await client.get("/metrics")).text, name, door="webhook_whatsapp")
        event = wa_message("wa_text.json", wamid=unique("wamid."), sender="4915001")
        assert (await post_meta(hub, channel, event)).status_code == 200
        text = (await client.get("/metrics")).text
    assert sample(text, name, door="webhook_whatsapp") == before + 1


async def test_every_webhook_counts_once_under_its_provider_and_result(hub: Hub) -> None:
    channel = await hub.channel("whatsapp")
    name = "inviaro_webhooks_total"
    async with hub.live.client() as client:
        before = sample((await client.get("/metrics")).text, name, provider="meta", result="ok")
        for _ in range(2):
            event = wa_message("wa_text.json", wamid=unique("wamid."), sender="4915002")
            assert (await post_meta(hub, channel, event)).status_code == 200
        text = (await client.get("/metrics")).text
    assert sample(text, name, provider="meta", result="ok") == before + 2
