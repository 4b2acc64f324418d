"""web.mail against a real SMTP server on loopback: credentials from the URL are used for
AUTH; a server that cannot be reached is a MailError with a safe sentence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.conftest import free_port
from tests.smtp_sink import SmtpInbox, body_of
from web.config import Settings
from web.mail import MailError, send

USER, PASSWORD = "hub@example.com", "p@ss:word/1"
# The loopback test server takes AUTH without TLS (aiosmtpd warns about that, rightly).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Authenticator:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        pair = (data.login.decode(), data.password.decode())
        self.seen.append(pair)
        return AuthResult(success=pair == (USER, PASSWORD))


@pytest.fixture
async def auth_smtp() -> AsyncIterator[tuple[SmtpInbox, Authenticator]]:
    inbox, check = SmtpInbox(), Authenticator()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            inbox,
            hostname="mail.test",
            authenticator=check,
            auth_require_tls=False,
            auth_required=True,
        ),
        "127.0.0.1",
        0,
    )
    inbox.port = server.sockets[0].getsockname()[1]
    yield inbox, check
    server.close()
    await server.wait_closed()


def settings(url: str) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///:memory:",
        redis_url=None,
        secret_key="k" * 40,
        public_url="http://127.0.0.1:8000",
        smtp_url=url,
        mail_from="Inviaro <hub@example.com>",
    )


async def test_credentials_in_the_url_are_decoded_and_used(
    auth_smtp: tuple[SmtpInbox, Authenticator],
) -> None:
    inbox, check = auth_smtp
    url = f"smtp://hub%40example.com:p%40ss%3Aword%2F1@127.0.0.1:{inbox.port}"
    await send(settings(url), "someone@example.com", "Hello", "A line of text.")
    mail = await inbox.wait_for("someone@example.com")
    assert check.seen == [(USER, PASSWORD)]
    assert mail["Subject"] == "Hello" and "A line of text." in body_of(mail)
    assert mail["From"] == "Inviaro <hub@example.com>"


async def test_an_unreachable_server_is_a_mail_error_that_names_no_secret() -> None:
    url = f"smtp://hub:very-secret@127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(MailError) as err:
        await send(settings(url), "someone@example.com", "Hello", "text")
    assert "very-secret" not in str(err.value)
