"""Process-level fixtures: real ``inviaro serve`` processes on Postgres and a private Redis.

Fault tests start their own ``redis-server`` on a spare loopback port, so killing or
restarting it never disturbs the shared one, and end every process they started by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SECRET, _create_pg_database, _drop_pg_database, free_port, unavailable


@dataclass
class RedisServer:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server", "not installed")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    async def wait_ready(self) -> None:
        """Wait until OUR redis-server answers; a port taken meanwhile by another test run
        makes it exit, which fails here instead of borrowing someone else's Redis."""
        import redis.asyncio as redis

        client = redis.from_url(self.url)
        try:
            for _ in range(200):
                if self.proc is None or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} exited")
                try:
                    await client.ping()
                    return
                except Exception:
                    await asyncio.sleep(0.05)
            raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()


@dataclass
class Hub:
    """One ``inviaro serve`` process."""

    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "web.cli",
                    "--log-level",
                    "warning",
                    "serve",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(300):
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"hub exited: {self.log.read_text()[-2000:]}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("hub did not start")

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(30)
        self.proc = None
        return code


@dataclass
class Cluster:
    database_url: str
    redis: RedisServer
    hubs: list[Hub] = field(default_factory=list)


@pytest.fixture
async def closer() -> AsyncIterator[list[Any]]:
    """HTTP clients a test opened (append them); they and every test socket are closed after."""
    from tests.web.realtime import close_all_sockets

    items: list[Any] = []
    yield items
    await close_all_sockets()
    for item in items:
        await item.aclose()


@contextlib.asynccontextmanager
async def private_redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A private redis-server; if another run grabs its port first, try another one."""
    for _ in range(5):
        server = RedisServer(free_port(), tmp_path)
        server.start()
        try:
            await server.wait_ready()
            break
        except RuntimeError:
            server.kill()
    else:
        raise RuntimeError("could not start a private redis-server")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with private_redis_server(tmp_path) as server:
        yield server


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    url = await _create_pg_database()
    yield url
    await _drop_pg_database(url)


@pytest.fixture
async def cluster(
    pg_database: str, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """Two hub processes sharing one Postgres database and one private Redis."""
    cluster = Cluster(pg_database, redis_server)
    for n in range(2):
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": pg_database,
            "REDIS_URL": redis_server.url,
            "INVIARO_SECRET_KEY": SECRET,
            "INVIARO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PYTHONUNBUFFERED": "1",
            "INVIARO_MESSAGES_PER_10S": "100000",  # these tests send as fast as acks return
            "INVIARO_HEARTBEAT_S": "1",  # cross-process sweeps within a second
        }
        cluster.hubs.append(Hub(port, env, tmp_path / f"hub{n}.log"))
    cluster.hubs[0].start()
    await cluster.hubs[0].wait_ready()  # the first one migrates the fresh database
    cluster.hubs[1].start()
    await cluster.hubs[1].wait_ready()
    yield cluster
    for hub in cluster.hubs:
        if hub.proc is not None:
            hub.kill()
