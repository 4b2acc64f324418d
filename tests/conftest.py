"""Shared fixtures: a fresh database per test run (SQLite and Postgres), real Redis, and a
real uvicorn server on a free loopback port.

Postgres and Redis come from ``DATABASE_URL`` / ``REDIS_URL`` (defaulting to the local
services). Where one is unreachable its tests skip with the reason, except under CI
(``CI`` set), where a missing service fails the run instead of hiding tests.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import make_engine, normalize_url
from web.app import create_app
from web.config import Settings
from web.server import uvicorn_config, uvicorn_server

PG_URL = normalize_url(
    os.environ.get("DATABASE_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
# Every test server keeps its media files here (never in the checkout); gone at exit.
MEDIA_ROOT = tempfile.mkdtemp(prefix="inviaro-test-media-")
atexit.register(shutil.rmtree, MEDIA_ROOT, True)

# Fixtures kept in their own modules: a real SMTP server and a hub that mails to it.
pytest_plugins = ("tests.smtp_sink",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` (several processes on one database) are not run on
    SQLite at all, rather than skipped there."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("db_url") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("postgres_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def unavailable(what: str, why: str) -> None:
    """Skip on a laptop without the service; fail in CI, where every test must run."""
    message = f"{what} is unreachable ({why})"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must run every test", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _create_pg_database() -> str:
    if not PG_URL.startswith("postgresql"):
        unavailable("Postgres", f"DATABASE_URL is {PG_URL!r}")
    # Unique per process, so each pytest-xdist worker has databases of its own; the worker's
    # name (gw0, gw1, ...) is there only to tell them apart when looking at the server.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"inviaro_t_{int(time.time())}_{worker}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        async with admin.connect() as conn:
            await _drop_abandoned(conn)
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable("Postgres", type(exc).__name__)
    finally:
        await admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def _drop_abandoned(conn: Any) -> None:
    """Drop test databases that a killed run left behind (older than a day, so a run still
    going on beside this one is never touched)."""
    rows = await conn.execute(
        text("SELECT datname FROM pg_database WHERE datname LIKE 'inviaro\\_t\\_%'")
    )
    cutoff = time.time() - 86_400
    for (name,) in rows.all():
        stamp = name.split("_")[2]
        if stamp.isdigit() and int(stamp) < cutoff:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database of this test run, dropped afterwards."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'inviaro.db'}"
    else:
        url = await _create_pg_database()
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    yield url
    if request.param == "postgres":
        await _drop_pg_database(url)


@pytest.fixture(scope="session")
async def redis_url() -> str:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        unavailable("Redis", type(exc).__name__)
    finally:
        await client.aclose()
    return REDIS_URL


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: object

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:]

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10.0, **kwargs)  # type: ignore[arg-type]


async def start_server(settings: Settings) -> tuple[LiveServer, Any, asyncio.Task[None]]:
    app = create_app(settings)
    config = uvicorn_config(app, settings, host="127.0.0.1", log_level="warning")
    server = uvicorn_server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return (
        LiveServer(url=f"http://127.0.0.1:{settings.port}", settings=settings, app=app),
        server,
        task,
    )


def make_settings(db_url: str, redis_url: str | None = None, **overrides: object) -> Settings:
    port = free_port()
    values: dict[str, object] = {
        "database_url": db_url,
        "redis_url": redis_url,
        "secret_key": SECRET,
        "public_url": f"http://127.0.0.1:{port}",
        "port": port,
        # The worker sends to real providers; tests that want it run it themselves.
        "run_worker": False,
        "media_dir": os.path.join(MEDIA_ROOT, str(port)),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def live(db_url: str) -> AsyncIterator[LiveServer]:
    """One real server per database backend, on the in-process bus."""
    live, server, task = await start_server(make_settings(db_url))
    yield live
    server.should_exit = True
    await task


@pytest.fixture
async def client(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def unique_email() -> str:
    return f"op-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
def email() -> Iterator[str]:
    yield unique_email()
