"""Configuration comes from the environment; a bad setting stops start-up with one sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.ratelimit import Limit
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


def test_an_in_memory_database_keeps_no_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite://", "sqlite:///:memory:"):
        assert len(load({"DATABASE_URL": url}).secret_key) >= 32
    assert list(tmp_path.iterdir()) == []


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
        ({"INVIARO_LIMIT_SIGNUP": "lots"}, "INVIARO_LIMIT_SIGNUP"),
        ({"INVIARO_LIMIT_LOGIN": "0/15m"}, "INVIARO_LIMIT_LOGIN"),
        ({"INVIARO_LIMIT_API": "100/0s"}, "INVIARO_LIMIT_API"),
        ({"INVIARO_LIMIT_CHANNEL_REQUESTS": "100 per second"}, "INVIARO_LIMIT_CHANNEL_REQUESTS"),
        ({"INVIARO_TRUSTED_PROXIES": "lb.internal"}, "INVIARO_TRUSTED_PROXIES"),
        ({"INVIARO_VISITOR_SOCKETS": "0"}, "INVIARO_VISITOR_SOCKETS"),
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


def test_ai_is_off_unless_the_server_names_a_provider() -> None:
    settings = load({"INVIARO_SECRET_KEY": KEY, "DATABASE_URL": "postgres://u@h/db"})
    assert settings.ai_configured is False and settings.ai_base_url is None


def test_an_ai_provider_needs_its_url_key_and_model_together() -> None:
    with pytest.raises(ConfigError, match="INVIARO_AI_API_KEY"):
        load(
            {
                "INVIARO_SECRET_KEY": KEY,
                "DATABASE_URL": "postgres://u@h/db",
                "INVIARO_AI_BASE_URL": "https://api.openai.com/v1",
                "INVIARO_AI_MODEL": "gpt-4o-mini",
            }
        )


def test_the_ai_key_is_never_in_the_settings_repr() -> None:
    settings = load(
        {
            "INVIARO_SECRET_KEY": KEY,
            "DATABASE_URL": "postgres://u@h/db",
            "INVIARO_AI_BASE_URL": "https://api.openai.com/v1/",
            "INVIARO_AI_API_KEY": "sk-very-secret",
            "INVIARO_AI_MODEL": "gpt-4o-mini",
            "INVIARO_AI_REGION": "United States",
        }
    )
    assert settings.ai_configured and settings.ai_base_url == "https://api.openai.com/v1"
    assert "sk-very-secret" not in repr(settings)


def test_rate_limits_read_as_a_count_per_period() -> None:
    settings = load(
        {
            "INVIARO_SECRET_KEY": KEY,
            "DATABASE_URL": "sqlite://",
            "INVIARO_LIMIT_SIGNUP": "5/10m",
            "INVIARO_LIMIT_CHANNEL_REQUESTS": "2000/s",
            "INVIARO_LIMIT_LOGIN_ACCOUNT": "300/2h",
        }
    )
    assert settings.limit_signup == Limit(5, 600)
    assert settings.limit_channel_requests == Limit(2000, 1)
    assert settings.limit_login_account == Limit(300, 7200)


def test_trusted_proxies_default_to_loopback_and_take_networks() -> None:
    base = {"INVIARO_SECRET_KEY": KEY, "DATABASE_URL": "sqlite://"}
    assert load(base).trusted_proxies == "127.0.0.1,::1"
    env = {**base, "INVIARO_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}
    assert load(env).trusted_proxies == "10.0.0.0/8,192.0.2.7"


def test_flow_http_steps_reach_private_addresses_only_when_allowed() -> None:
    base = {"INVIARO_SECRET_KEY": KEY, "DATABASE_URL": "sqlite://"}
    assert load(base).flow_http_allow_private is False
    assert load({**base, "INVIARO_FLOW_HTTP_ALLOW_PRIVATE": "true"}).flow_http_allow_private
