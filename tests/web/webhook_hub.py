"""A live hub for channel webhook tests: the providers' documented payloads with fresh ids,
signed the way the providers sign them, a signed-up owner, channels made through the API,
and the provider client swapped for an ``httpx.MockTransport`` on demand."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from storage import models as m
from tests.conftest import LiveServer, make_settings, start_server
from tests.helpers import Account, new_client, signup
from web.services import Services
from web.worker import run_once

PAYLOADS = Path(__file__).parent.parent / "adapters" / "payloads"
APP_SECRET = "meta-app-secret-0123"
VERIFY_TOKEN = "verify-token-0123"
ACCESS_TOKEN = "EAAG-access-token"
VIBER_TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
PHONE_NUMBER_ID = "1122334455667"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_bytes())
    return data


def body_of(data: dict[str, Any] | bytes) -> bytes:
    return data if isinstance(data, bytes) else json.dumps(data).encode()


def meta_headers(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def viber_headers(body: bytes, token: str = VIBER_TOKEN) -> dict[str, str]:
    digest = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Viber-Content-Signature": digest, "Content-Type": "application/json"}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def wa_message(name: str, *, wamid: str, sender: str) -> dict[str, Any]:
    """A documented WhatsApp payload with fresh ids, so tests never share a contact."""
    data = payload(name)
    value = data["entry"][0]["changes"][0]["value"]
    for contact in value.get("contacts", []):
        contact["wa_id"] = sender
    for message in value.get("messages", []):
        message["id"] = wamid
        message["from"] = sender
    return data


def wa_status(name: str, *, wamid: str) -> dict[str, Any]:
    data = payload(name)
    data["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = wamid
    return data


async def send_due(hub: Hub, **kw: Any) -> int:
    """One pass of the worker (``run_once``) over every due outbox row of the test run's
    database, not its usual batch of 50: the database is shared by the whole run, so other
    tests' unsent replies could fill a batch and leave this test's row for later."""
    return await run_once(hub.services, limit=100_000, **kw)


@dataclass
class Hub:
    """A server whose worker does not run in-process, so tests drive ``run_once``."""

    live: LiveServer
    owner: Account

    @property
    def services(self) -> Services:
        services: Services = self.live.app.state.services  # type: ignore[attr-defined]
        return services

    async def channel(self, kind: str = "whatsapp", **config: Any) -> str:
        defaults: dict[str, dict[str, Any]] = {
            "whatsapp": {"phone_number_id": PHONE_NUMBER_ID},
            "messenger": {"page_id": "1234567890"},
            "instagram": {"account_id": "17841400000000000"},
            "viber": {},
        }
        secrets = (
            {"auth_token": VIBER_TOKEN}
            if kind == "viber"
            else {
                "access_token": ACCESS_TOKEN,
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
            }
        )
        body = {"kind": kind, "name": kind, "config": {**defaults[kind], **secrets, **config}}
        response = await self.owner.post("/api/channels", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def count(self, model: type, *where: Any) -> int:
        async with self.services.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(model).where(*where)))

    async def messages(self, channel_id: str) -> list[m.Message]:
        async with self.services.db() as db:
            rows = await db.scalars(
                select(m.Message).where(m.Message.channel_id == channel_id).order_by(m.Message.seq)
            )
            return list(rows)

    async def message(self, message_id: str) -> m.Message:
        async with self.services.db() as db:
            row = await db.get(m.Message, message_id)
            assert row is not None
            return row

    def mock(self, handler: Callable[[httpx.Request], httpx.Response]) -> MockHttp:
        return MockHttp(self.services, handler)


class MockHttp:
    """Swap the running app's provider client for a MockTransport one, and back."""

    def __init__(
        self, services: Services, handler: Callable[[httpx.Request], httpx.Response]
    ) -> None:
        self.services = services
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        self.saved = services.http

    async def __aenter__(self) -> httpx.AsyncClient:
        self.services.http = self.client
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        self.services.http = self.saved
        await self.client.aclose()


@contextlib.asynccontextmanager
async def hub_server(db_url: str, **settings: Any) -> AsyncIterator[Hub]:
    """A live server (no in-process worker unless asked) with a signed-up owner."""
    settings.setdefault("run_worker", False)
    live, server, task = await start_server(make_settings(db_url, **settings))
    client = new_client(live.url)
    try:
        yield Hub(live, await signup(client))
    finally:
        await client.aclose()
        server.should_exit = True
        await task


async def post_meta(hub: Hub, channel_id: str, data: dict[str, Any] | bytes) -> httpx.Response:
    body = body_of(data)
    async with hub.live.client() as client:
        return await client.post(
            f"/webhooks/meta/{channel_id}", content=body, headers=meta_headers(body)
        )
