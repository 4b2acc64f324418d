"""Backups to an S3-compatible bucket: ``inviaro backup --to s3://bucket/prefix``, its
30-day pruning there, a restore from the bucket, and the worker's daily backup.

The bucket is moto's S3 server: a real HTTP server on loopback speaking the S3 API, as
MinIO or Ceph would (no mock inside the hub: boto3 talks HTTP to it)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from storage import backup, migrate
from storage.db import make_engine
from storage.ledger import erased_contact_hash
from storage.store import SqlStore
from tests.conftest import free_port, make_settings, start_server
from tests.helpers import signup
from tests.web.test_contacts import write_contact
from web import backups, config

KEY = "backup-passphrase-long-enough-0123456789"
BUCKET = "inviaro-backups"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    s3(url).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def s3(url: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def keys(url: str, prefix: str) -> list[str]:
    listed = s3(url).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def inviaro(
    cwd: Path, database_url: str, endpoint: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "DATABASE_URL": database_url,
        "PATH": "/usr/bin:/bin",
        "INVIARO_BACKUP_KEY": KEY,
        "INVIARO_BACKUP_S3_ENDPOINT": endpoint,
        "INVIARO_BACKUP_S3_ACCESS_KEY_ID": "testing",
        "INVIARO_BACKUP_S3_SECRET_ACCESS_KEY": "testing",
    }
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def seeded(tmp_path: Path, endpoint: str) -> str:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert inviaro(tmp_path, url, endpoint, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "hub.db") as db:
        db.execute(
            "INSERT INTO audit_log (id, at, actor_kind, action)"
            " VALUES ('au_s3', '2026-11-20 12:00:00.000000', 'system', 'login')"
        )
    return url


def test_a_backup_goes_to_the_bucket_and_restores_from_it(tmp_path: Path, endpoint: str) -> None:
    prefix = f"hub-{uuid.uuid4().hex[:8]}"
    url = seeded(tmp_path, endpoint)
    made = inviaro(tmp_path, url, endpoint, "backup", "--to", f"s3://{BUCKET}/{prefix}")
    assert made.returncode == 0, made.stderr
    location = made.stdout.strip().splitlines()[-1]
    assert location.startswith(f"s3://{BUCKET}/{prefix}/inviaro-backup-")
    [stored] = keys(endpoint, prefix + "/")
    assert location == f"s3://{BUCKET}/{stored}"
    body = s3(endpoint).get_object(Bucket=BUCKET, Key=stored)["Body"].read()
    assert b"au_s3" not in body  # encrypted before it left the machine

    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    restored = inviaro(tmp_path, fresh, endpoint, "restore", location)
    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(tmp_path / "fresh.db") as db:
        assert db.execute("SELECT id FROM audit_log").fetchall() == [("au_s3",)]


def test_backups_older_than_30_days_are_deleted_from_the_bucket(
    tmp_path: Path, endpoint: str
) -> None:
    prefix = f"hub-{uuid.uuid4().hex[:8]}"
    old = f"{prefix}/inviaro-backup-20200101T000000Z.ivb"
    other = f"{prefix}/notes.txt"
    for key in (old, other):
        s3(endpoint).put_object(Bucket=BUCKET, Key=key, Body=b"x")
    url = seeded(tmp_path, endpoint)
    made = inviaro(tmp_path, url, endpoint, "backup", "--to", f"s3://{BUCKET}/{prefix}")
    assert made.returncode == 0, made.stderr
    assert "Removed 1 backups older than 30 days." in made.stdout
    left = keys(endpoint, prefix + "/")
    assert old not in left and other in left and len(left) == 2


def test_a_bucket_that_does_not_exist_is_refused_with_a_sentence(
    tmp_path: Path, endpoint: str
) -> None:
    url = seeded(tmp_path, endpoint)
    made = inviaro(tmp_path, url, endpoint, "backup", "--to", "s3://no-such-bucket/x")
    assert made.returncode == 1
    assert made.stderr.strip().splitlines()[-1] == (
        "inviaro: Cannot write to s3://no-such-bucket/x/: the server answered NoSuchBucket."
    )


async def test_the_worker_backs_up_to_the_bucket_once_a_day(tmp_path: Path, endpoint: str) -> None:
    prefix = f"worker-{uuid.uuid4().hex[:8]}"
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    settings = make_settings(
        url,
        backup_to=f"s3://{BUCKET}/{prefix}",
        backup_key=KEY,
        backup_s3_endpoint=endpoint,
        backup_s3_access_key_id="testing",
        backup_s3_secret_access_key="testing",
    )
    services = SimpleNamespace(settings=settings)
    await backups.daily_backup(services)
    await backups.daily_backup(services)  # the newest is younger than a day: nothing
    assert len(keys(endpoint, prefix + "/")) == 1


async def test_an_erasure_reaches_the_ledger_in_the_bucket_at_once(
    db_url: str, tmp_path: Path, endpoint: str
) -> None:
    prefix = f"ledger-{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        db_url,
        backup_to=f"s3://{BUCKET}/{prefix}",
        backup_s3_endpoint=endpoint,
        backup_s3_access_key_id="testing",
        backup_s3_secret_access_key="testing",
    )
    live, server, task = await start_server(settings)
    engine = make_engine(db_url)
    try:
        async with live.client() as client:
            owner = await signup(client)
            store = SqlStore(engine)
            try:
                contact = await write_contact(store, engine, owner.workspace_id)
            finally:
                await store.close()
            assert (await owner.delete(f"/api/contacts/{contact.id}")).status_code == 204
    finally:
        await engine.dispose()
        server.should_exit = True
        await task
    ledger = tmp_path / backup.LEDGER_FILE
    ledger.write_bytes(
        s3(endpoint).get_object(Bucket=BUCKET, Key=f"{prefix}/{backup.LEDGER_FILE}")["Body"].read()
    )
    hashes = [e["contact_hash"] for e in backup.read_ledger(ledger)]
    assert erased_contact_hash(owner.workspace_id, contact.id) in hashes


def test_the_backup_settings_are_read_from_the_environment_once() -> None:
    env = {
        "DATABASE_URL": "sqlite:///:memory:",
        "INVIARO_BACKUP_DIR": "s3://bucket/hub",
        "INVIARO_BACKUP_KEY": KEY,
        "INVIARO_BACKUP_S3_ENDPOINT": "https://s3.example.test/",
        "INVIARO_BACKUP_S3_SECRET_ACCESS_KEY": "very-secret",
    }
    settings = config.load(env)
    assert (settings.backup_to, settings.backup_key) == ("s3://bucket/hub", KEY)
    assert settings.backup_s3_endpoint == "https://s3.example.test"
    assert "very-secret" not in repr(settings) and KEY not in repr(settings)
    with pytest.raises(config.ConfigError, match="INVIARO_BACKUP_S3_ENDPOINT"):
        config.load({**env, "INVIARO_BACKUP_S3_ENDPOINT": "s3.example.test"})
