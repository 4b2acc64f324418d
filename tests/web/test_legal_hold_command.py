"""``inviaro legal-hold``: the server admin holds logs past ``inviaro purge --as-of``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

AS_OF = "2026-09-01T12:00:00Z"  # 200 days after the entries below


def inviaro(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def audit_ids(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "hub.db") as db:
        return {r[0] for r in db.execute("SELECT id FROM audit_log WHERE id LIKE 'au_t%'")}


def audit_actions(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "hub.db") as db:
        return [r[0] for r in db.execute("SELECT action FROM audit_log WHERE actor_kind='system'")]


def prepare(tmp_path: Path) -> None:
    assert inviaro(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "hub.db") as db:
        db.executemany(
            "INSERT INTO audit_log (id, at, actor_kind, action) VALUES (?, ?, 'anonymous', ?)",
            [
                ("au_theld", "2026-02-13 10:00:00.000000", "login_failed"),
                ("au_tfree", "2026-02-20 10:00:00.000000", "login_failed"),
            ],
        )


def place(tmp_path: Path) -> str:
    result = inviaro(
        tmp_path,
        "legal-hold",
        "place",
        "--from",
        "2026-02-13T00:00:00Z",
        "--to",
        "2026-02-14T00:00:00Z",
        "--reason",
        "credential stuffing, ticket 42",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_a_held_entry_survives_the_purge_and_an_unheld_one_goes(tmp_path: Path) -> None:
    prepare(tmp_path)
    place(tmp_path)
    result = inviaro(tmp_path, "purge", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert audit_ids(tmp_path) == {"au_theld"}
    assert "audit entries held: 1" in result.stdout


def test_lifting_the_hold_lets_the_entry_go(tmp_path: Path) -> None:
    prepare(tmp_path)
    hold_id = place(tmp_path)
    assert inviaro(tmp_path, "purge", "--as-of", AS_OF).returncode == 0
    lifted = inviaro(tmp_path, "legal-hold", "lift", hold_id)
    assert lifted.returncode == 0, lifted.stderr
    assert inviaro(tmp_path, "purge", "--as-of", AS_OF).returncode == 0
    assert audit_ids(tmp_path) == set()


def test_placing_and_lifting_are_audited(tmp_path: Path) -> None:
    prepare(tmp_path)
    hold_id = place(tmp_path)
    inviaro(tmp_path, "legal-hold", "lift", hold_id)
    assert audit_actions(tmp_path) == ["legal_hold_placed", "legal_hold_lifted"]
    listed = inviaro(tmp_path, "legal-hold", "list")
    assert hold_id in listed.stdout and "lifted" in listed.stdout


def test_a_malformed_hold_is_refused_with_a_sentence(tmp_path: Path) -> None:
    prepare(tmp_path)
    result = inviaro(
        tmp_path, "legal-hold", "place", "--from", "soon", "--to", "later", "--reason", "x"
    )
    assert result.returncode == 2
    assert "RFC 3339" in result.stderr and "Traceback" not in result.stderr


def test_lifting_an_unknown_hold_fails_with_a_sentence(tmp_path: Path) -> None:
    prepare(tmp_path)
    result = inviaro(tmp_path, "legal-hold", "lift", "lh_nope")
    assert result.returncode == 1
    assert "no such active legal hold" in result.stderr
