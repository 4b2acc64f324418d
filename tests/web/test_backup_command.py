"""``inviaro backup`` and ``inviaro restore`` as an operator runs them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _create_pg_database, _drop_pg_database

KEY = "backup-passphrase-long-enough-0123456789"


def inviaro(
    cwd: Path, database_url: str, *args: str, key: str | None = KEY
) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    if key is not None:
        env["INVIARO_BACKUP_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def sqlite_url(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def seed(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path, "hub.db")
    assert inviaro(tmp_path, url, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "hub.db") as db:
        db.execute(
            "INSERT INTO audit_log (id, at, actor_kind, action)"
            " VALUES ('au_seed', '2026-11-20 12:00:00.000000', 'system', 'login')"
        )
    return url


def test_a_backup_prints_its_path_last_and_restores_into_a_fresh_database(
    tmp_path: Path,
) -> None:
    url = seed(tmp_path)
    made = inviaro(tmp_path, url, "backup", "--to", str(tmp_path / "backups"))
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip().splitlines()[-1])
    assert path.parent == tmp_path / "backups" and path.exists()
    assert b"au_seed" not in path.read_bytes()  # encrypted
    restored = inviaro(tmp_path, sqlite_url(tmp_path, "fresh.db"), "restore", str(path))
    assert restored.returncode == 0, restored.stderr
    assert "match the backup" in restored.stdout
    with sqlite3.connect(tmp_path / "fresh.db") as db:
        assert db.execute("SELECT id FROM audit_log").fetchall() == [("au_seed",)]


def test_a_restore_into_a_database_holding_data_is_refused_with_a_sentence(
    tmp_path: Path,
) -> None:
    url = seed(tmp_path)
    made = inviaro(tmp_path, url, "backup", "--to", str(tmp_path / "backups"))
    path = made.stdout.strip().splitlines()[-1]
    refused = inviaro(tmp_path, url, "restore", path)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "inviaro: The database of DATABASE_URL already holds data; restore only into an "
        "empty database."
    )


def test_a_wrong_key_is_refused_before_the_database_is_touched(tmp_path: Path) -> None:
    url = seed(tmp_path)
    made = inviaro(tmp_path, url, "backup", "--to", str(tmp_path / "backups"))
    path = made.stdout.strip().splitlines()[-1]
    fresh = sqlite_url(tmp_path, "fresh.db")
    refused = inviaro(
        tmp_path, fresh, "restore", path, key="a-different-key-that-is-long-enough-42"
    )
    assert refused.returncode == 1
    assert "key is wrong" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "fresh.db").exists()


def test_backup_without_a_key_says_which_setting_is_missing(tmp_path: Path) -> None:
    url = seed(tmp_path)
    result = inviaro(tmp_path, url, "backup", "--to", str(tmp_path / "backups"), key=None)
    assert result.returncode == 2
    assert "INVIARO_BACKUP_KEY" in result.stderr


def test_backup_without_a_directory_says_how_to_give_one(tmp_path: Path) -> None:
    result = inviaro(tmp_path, seed(tmp_path), "backup")
    assert result.returncode == 2
    assert "--to DIR" in result.stderr and "INVIARO_BACKUP_DIR" in result.stderr


@pytest.mark.postgres_only
async def test_backup_and_restore_on_postgres(db_url: str, tmp_path: Path) -> None:
    source, target = await _create_pg_database(), await _create_pg_database()
    try:
        assert inviaro(tmp_path, source, "migrate").returncode == 0
        made = inviaro(tmp_path, source, "backup", "--to", str(tmp_path / "backups"))
        assert made.returncode == 0, made.stderr
        path = made.stdout.strip().splitlines()[-1]
        restored = inviaro(tmp_path, target, "restore", path)
        assert restored.returncode == 0, restored.stderr
        again = inviaro(tmp_path, target, "restore", path)
        assert again.returncode == 0, again.stderr  # a migrated but empty database is empty
    finally:
        await _drop_pg_database(source)
        await _drop_pg_database(target)
