"""``inviaro purge`` applies retention once, with the configured periods."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path


def inviaro(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
            "INVIARO_AUDIT_RETENTION_DAYS": "30",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def test_a_purge_counts_audit_entries_past_the_configured_retention(tmp_path: Path) -> None:
    assert inviaro(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "hub.db") as db:  # 40 days before --as-of
        db.execute(
            "INSERT INTO audit_log (id, at, actor_kind, action)"
            " VALUES ('au_old', '2026-01-20 12:00:00.000000', 'system', 'login')"
        )
    result = inviaro(tmp_path, "purge", "--dry-run", "--as-of", "2026-03-01T12:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "audit entries: 1" in result.stdout
