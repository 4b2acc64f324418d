"""``inviaro worker`` as real processes against the test Postgres and a loopback provider.

The provider stand-in is a small HTTP server on 127.0.0.1 speaking WhatsApp's
``/{phone_number_id}/messages``; the workers reach it through ``INVIARO_PROVIDER_ORIGINS``.
What is proven: two workers side by side send every message exactly once (the lease and
``FOR UPDATE SKIP LOCKED``), and a worker SIGKILLed mid-batch loses nothing: a restarted
worker sends the rest once its leases expire. Sends that were in flight at the kill may
reach the provider twice (no provider takes an idempotency key), never more than the
worker's concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storage import models as m
from tests import loopback
from tests.conftest import SECRET, free_port
from tests.web.webhook_hub import Hub, hub_server, post_meta, unique, wa_message
from web.worker import CONCURRENCY

pytestmark = pytest.mark.slow

INVIARO = Path(sys.executable).parent / "inviaro"
REPLIES = 30


class Provider:
    """WhatsApp's messages endpoint on loopback, slow enough to be killed mid-batch."""

    def __init__(self, phone_number_id: str, delay: float = 0.2) -> None:
        self.phone_number_id = phone_number_id
        self.delay = delay
        self.texts: Counter[str] = Counter()
        self.in_flight = 0
        self.port = free_port()
        self.app = Starlette(
            routes=[Route("/v21.0/{phone}/messages", self.messages, methods=["POST"])]
        )

    async def messages(self, request: Request) -> JSONResponse:
        if request.path_params["phone"] != self.phone_number_id:
            return JSONResponse({"error": {"code": 100, "message": "unknown"}}, status_code=400)
        body: dict[str, Any] = await request.json()
        self.texts[body["text"]["body"]] += 1
        self.in_flight += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return JSONResponse({"messages": [{"id": f"wamid.{uuid.uuid4().hex}"}]})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Provider]:
        async with loopback.serving(self.app, self.port):
            yield self


async def start_worker(
    db_url: str, provider: Provider, lease_s: int = 2
) -> asyncio.subprocess.Process:
    """A worker whose leases run ``lease_s``: short where a killed worker's rows must come
    back soon; long where a send slowed by a loaded machine must not be leased twice."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "INVIARO_SECRET_KEY": SECRET,
        "INVIARO_PROVIDER_ORIGINS": f"https://graph.facebook.com=http://127.0.0.1:{provider.port}",
        "INVIARO_OUTBOX_LEASE_S": str(lease_s),
    }
    env.pop("REDIS_URL", None)
    return await asyncio.create_subprocess_exec(
        str(INVIARO), "--log-level", "warning", "worker", env=env
    )


async def queue_replies(hub: Hub, phone_number_id: str) -> list[str]:
    channel = await hub.channel("whatsapp", phone_number_id=phone_number_id)
    data = wa_message("wa_text.json", wamid=unique("wamid."), sender=unique("4917"))
    assert (await post_meta(hub, channel, data)).status_code == 200
    [inbound] = await hub.messages(channel)
    ids = []
    for i in range(REPLIES):
        response = await hub.owner.post(
            f"/api/conversations/{inbound.conversation_id}/messages", json={"text": f"reply {i}"}
        )
        assert response.status_code == 201
        ids.append(response.json()["id"])
    return ids


async def statuses(hub: Hub, ids: list[str]) -> Counter[str]:
    async with hub.services.db() as db:
        rows = await db.scalars(select(m.Message.status).where(m.Message.id.in_(ids)))
        return Counter(rows)


async def wait_until_sent(hub: Hub, ids: list[str], seconds: float = 60.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if (await statuses(hub, ids))["sent"] == len(ids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all sent: {await statuses(hub, ids)}")


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Hub]:
    async with hub_server(db_url) as started:
        yield started


async def test_two_workers_send_every_reply_exactly_once(hub: Hub, db_url: str) -> None:
    provider = Provider(unique("10"), delay=0.05)
    async with provider.serving():
        ids = await queue_replies(hub, provider.phone_number_id)
        workers = [await start_worker(db_url, provider, lease_s=60) for _ in range(2)]
        try:
            await wait_until_sent(hub, ids)
        finally:
            for worker in workers:
                await stop(worker)
    assert provider.texts == Counter({f"reply {i}": 1 for i in range(REPLIES)})


async def test_a_worker_killed_mid_batch_loses_nothing(hub: Hub, db_url: str) -> None:
    provider = Provider(unique("10"), delay=0.2)
    async with provider.serving():
        ids = await queue_replies(hub, provider.phone_number_id)
        worker = await start_worker(db_url, provider)
        try:
            for _ in range(300):
                if sum(provider.texts.values()) >= 5:
                    break
                await asyncio.sleep(0.05)
            assert sum(provider.texts.values()) >= 5, "the worker never started sending"
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
        finally:
            await stop(worker)
        assert (await statuses(hub, ids))["sent"] < REPLIES  # killed mid-batch indeed
        restarted = await start_worker(db_url, provider)
        try:
            await wait_until_sent(hub, ids)
        finally:
            await stop(restarted)
    assert set(provider.texts) == {f"reply {i}" for i in range(REPLIES)}
    repeated = sum(provider.texts.values()) - REPLIES
    assert repeated <= CONCURRENCY, provider.texts
    async with hub.services.db() as db:
        left = await db.scalars(select(m.OutboxItem.id).where(m.OutboxItem.message_id.in_(ids)))
        assert list(left) == []
