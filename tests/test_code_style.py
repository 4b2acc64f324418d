"""The code is kept as the README says: ruff clean and formatted, every package typed
(``mypy --strict``, set in pyproject), settings read in one place."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "hub", "web", "storage", "adapters"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_the_code_passes(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


# Environment reads that are not settings: the child process of pg_dump/psql gets this
# process's environment minus the PG* variables (storage/backup.py).
_NOT_SETTINGS = {"storage/backup.py": 'os.environ.items() if not k.startswith("PG")'}


def test_settings_are_read_only_through_web_config() -> None:
    read = re.compile(r"os\.environ|os\.getenv|getenv\(")
    stray = []
    for package in ("hub", "storage", "adapters", "web"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name == "web/config.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if read.search(line) and _NOT_SETTINGS.get(name, "\0") not in line:
                    stray.append(f"{name}:{number}: {line.strip()}")
    assert not stray, "read these through web.config.Settings:\n" + "\n".join(stray)
