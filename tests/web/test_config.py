"""Configuration comes from the environment; a bad setting stops start-up with one sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from web.config import ConfigError, load

KEY = "k" * 40


def test_postgres_scheme_means_asyncpg() -> None:
    settings = load({"DATABASE_URL": "postgres://u@h/db", "INVIARO_SECRET_KEY": KEY})
    assert settings.database_url == "postgresql+asyncpg://u@h/db"


def test_without_settings_the_hub_runs_on_sqlite_and_the_memory_bus(tmp_path: Path) -> None:
    settings = load({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.redis_url is None and settings.run_worker


def test_a_generated_secret_key_is_kept_beside_the_database(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    assert load(env).secret_key == load(env).secret_key
    assert (tmp_path / "x.secret").stat().st_mode & 0o077 == 0


def test_the_public_url_follows_the_port() -> None:
    settings = load({"PORT": "9001", "INVIARO_SECRET_KEY": KEY, "DATABASE_URL": "sqlite://"})
    assert settings.public_url == "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DATABASE_URL": "::not a url::"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL"),
        ({"INVIARO_PUBLIC_URL": "ftp://x"}, "INVIARO_PUBLIC_URL"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"INVIARO_SECRET_KEY": "short"}, "INVIARO_SECRET_KEY"),
        ({"INVIARO_FLOW_HTTP_ALLOW_PRIVATE": "maybe"}, "INVIARO_FLOW_HTTP_ALLOW_PRIVATE"),
    ],
)
def test_a_malformed_setting_is_named_in_one_sentence(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load({"INVIARO_SECRET_KEY": KEY, "DATABASE_URL": "sqlite://", **env})
    assert named in str(refused.value) and "\n" not in str(refused.value)


def test_the_cli_reports_a_bad_setting_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "migrate"],
        env={"DATABASE_URL": "mysql://x/y", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("inviaro: DATABASE_URL")
    assert "Traceback" not in result.stderr


def test_flow_http_steps_reach_private_addresses_only_when_allowed() -> None:
    base = {"INVIARO_SECRET_KEY": KEY, "DATABASE_URL": "sqlite://"}
    assert load(base).flow_http_allow_private is False
    assert load({**base, "INVIARO_FLOW_HTTP_ALLOW_PRIVATE": "true"}).flow_http_allow_private
