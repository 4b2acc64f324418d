"""A deleted workspace's channels stop at once: every door refuses and nothing is stored."""

from __future__ import annotations

from storage import models as m
from tests.helpers import PASSWORD, auth_headers
from tests.web.webhook_hub import (
    PAYLOADS,
    VERIFY_TOKEN,
    body_of,
    hub_server,
    meta_headers,
    unique,
    viber_headers,
    wa_message,
)

INGEST = {"messages": [{"external_id": "m1", "contact": {"external_id": "c1"}, "text": "hi"}]}


async def test_a_deleted_workspaces_webhooks_ingest_and_verification_are_refused(
    db_url: str,
) -> None:
    async with hub_server(db_url) as hub:
        owner = hub.owner
        whatsapp = await hub.channel("whatsapp")
        viber = await hub.channel("viber")
        created = await owner.post("/api/channels", json={"kind": "custom", "name": "crm"})
        custom, ingest_token = created.json()["id"], created.json()["ingest_token"]
        challenge = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}
        challenge["hub.challenge"] = "7"
        async with hub.live.client() as provider:
            assert (await provider.get(f"/webhooks/meta/{whatsapp}", params=challenge)).text == "7"
            response = await owner.client.request(
                "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
            )
            assert response.status_code == 204
            meta = body_of(wa_message("wa_text.json", wamid=unique("wamid."), sender="4915001"))
            vb = (PAYLOADS / "viber_message_text.json").read_bytes()
            answers = [
                await provider.get(f"/webhooks/meta/{whatsapp}", params=challenge),
                await provider.post(
                    f"/webhooks/meta/{whatsapp}", content=meta, headers=meta_headers(meta)
                ),
                await provider.post(
                    f"/webhooks/viber/{viber}", content=vb, headers=viber_headers(vb)
                ),
                await provider.post(
                    f"/api/ingest/{custom}", json=INGEST, headers=auth_headers(ingest_token)
                ),
            ]
        assert [r.status_code for r in answers] == [404, 404, 404, 401]
        assert all(set(r.json()) == {"error", "detail"} for r in answers)
        assert await hub.count(m.Message, m.Message.workspace_id == owner.workspace_id) == 0
        assert await hub.count(m.Contact, m.Contact.workspace_id == owner.workspace_id) == 0
