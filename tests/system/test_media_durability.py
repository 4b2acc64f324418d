"""A channel's file is queued for copying with its message: SIGKILL the hub right after it
answered the webhook, before any worker ran, and the first worker to start copies the file
from the provider all the same."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage import models as m
from storage.db import make_engine
from tests import loopback
from tests.conftest import SECRET, free_port
from tests.helpers import new_client, signup
from tests.system.conftest import Hub, RedisServer
from tests.web.test_media_inbound import JPEG
from tests.web.webhook_hub import ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN, body_of, meta_headers
from tests.web.webhook_hub import payload as sample

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

CDN = "https://scontent.xx.fbcdn.net"
PICTURE = "/v/t1.15752-9/abc.jpg"  # the sample Messenger payload's image


class FakeCdn:
    """The provider's media host: the sample image, counting the downloads."""

    def __init__(self) -> None:
        self.port = free_port()
        self.downloads = 0
        self.app = Starlette(routes=[Route(PICTURE, self.picture)])

    async def picture(self, request: Request) -> Response:
        self.downloads += 1
        return Response(JPEG, media_type="image/jpeg")


@pytest.fixture
async def cdn() -> AsyncIterator[FakeCdn]:
    fake = FakeCdn()
    async with loopback.serving(fake.app, fake.port):
        yield fake


def environment(
    database_url: str, redis: RedisServer, media: Path, port: int, cdn: FakeCdn
) -> dict[str, str]:
    """A production-shaped process: with Redis, the web process runs no worker; the
    provider's media host is the fake one."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "INVIARO_SECRET_KEY": SECRET,
        "INVIARO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "INVIARO_MEDIA_DIR": str(media),
        "INVIARO_PROVIDER_ORIGINS": f"{CDN}=http://127.0.0.1:{cdn.port}",
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """An ``inviaro worker`` process for the block, stopped by its id afterwards."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "--log-level", "warning", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def test_a_file_acknowledged_by_a_hub_killed_at_once_is_copied_by_a_later_worker(
    pg_database: str, redis_server: RedisServer, cdn: FakeCdn, tmp_path: Path, closer: list[Any]
) -> None:
    port = free_port()
    env = environment(pg_database, redis_server, tmp_path / "media", port, cdn)
    hub = Hub(port, env, tmp_path / "hub.log")
    hub.start()
    await hub.wait_ready()
    client = new_client(hub.url)
    closer.append(client)
    owner = await signup(client)
    config = {
        "page_id": "1234567890",
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
    }
    created = await owner.post(
        "/api/channels", json={"kind": "messenger", "name": "Messenger", "config": config}
    )
    channel = created.json()["id"]
    body = body_of(sample("messenger_attachment.json"))
    webhook = await client.post(
        f"/webhooks/meta/{channel}", content=body, headers=meta_headers(body)
    )
    assert webhook.status_code == 200

    assert hub.kill(signal.SIGKILL) == -signal.SIGKILL  # right after the ack
    assert cdn.downloads == 0  # nothing copied it yet

    with worker(env, tmp_path / "worker.log"):
        attachment = await copied(pg_database, channel)
    assert attachment["url"] == f"/api/files/{attachment['media_id']}"
    assert (attachment["mime"], attachment["size"]) == ("image/jpeg", len(JPEG))
    assert cdn.downloads == 1


async def copied(database_url: str, channel_id: str) -> dict[str, Any]:
    """The channel's one message's attachment once it is the hub's copy (the bound only
    guards against a hang: the worker takes the queue at its first poll)."""
    engine = make_engine(database_url)
    try:
        for _ in range(600):
            async with engine.connect() as conn:
                rows = list(
                    await conn.scalars(
                        select(m.Message.attachments).where(m.Message.channel_id == channel_id)
                    )
                )
            assert len(rows) == 1  # stored before the ack
            [attachment] = rows[0]
            if "media_id" in attachment:
                return dict(attachment)
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    raise AssertionError("the worker never copied the file")
