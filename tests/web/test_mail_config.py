"""Mail settings: read from the environment, checked at start-up, never echoed."""

from __future__ import annotations

import pytest

from web import config
from web.mail import smtp_server

BASE = {"INVIARO_SECRET_KEY": "k" * 40, "DATABASE_URL": "sqlite+aiosqlite:///:memory:"}


def test_an_smtp_url_with_credentials_is_read_and_decoded() -> None:
    settings = config.load(
        {
            **BASE,
            "INVIARO_SMTP_URL": "smtps://me%40x.io:p%3Ass@mail.x.io",
            "INVIARO_MAIL_FROM": "a@x.io",
        }
    )
    server = smtp_server(settings.smtp_url or "")
    assert (server.host, server.port, server.username, server.password) == (
        "mail.x.io",
        465,
        "me@x.io",
        "p:ss",
    )
    assert server.use_tls and settings.mail_configured
    assert "p%3Ass" not in repr(settings)


def test_starttls_is_required_only_when_the_scheme_says_so() -> None:
    assert smtp_server("smtp+starttls://h:2525").start_tls is True
    assert smtp_server("smtp://h").start_tls is None
    assert smtp_server("smtp://h").port == 25


@pytest.mark.parametrize("url", ["http://mail.x.io", "smtp://", "smtp://h:99999", "mail.x.io"])
def test_a_malformed_smtp_url_stops_start_up_without_echoing_it(url: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load({**BASE, "INVIARO_SMTP_URL": url, "INVIARO_MAIL_FROM": "a@x.io"})
    assert "mail.x.io" not in str(err.value) and "99999" not in str(err.value)


def test_smtp_needs_a_sender() -> None:
    with pytest.raises(config.ConfigError, match="INVIARO_MAIL_FROM"):
        config.load({**BASE, "INVIARO_SMTP_URL": "smtp://127.0.0.1:25"})


def test_without_smtp_nothing_is_configured() -> None:
    assert not config.load(BASE).mail_configured
