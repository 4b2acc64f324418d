"""A real SMTP server for mail tests (aiosmtpd on the test's own event loop), and a hub
that sends its mail there.

``mail_live`` is a live server with ``INVIARO_SMTP_URL`` pointing at ``smtp_inbox``; tests
wait for a mail to their own unique address with :meth:`SmtpInbox.wait_for`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope

from tests.conftest import LiveServer, make_settings, start_server

WAIT_S = 15.0  # failure guard only


class SmtpInbox:
    """Every message the SMTP server accepted, by recipient."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []
        self.port = 0
        self._arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(([str(r).lower() for r in envelope.rcpt_tos], parsed))
        self._arrived.set()
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.mails if address.lower() in rcpts]

    async def wait_for(self, address: str) -> EmailMessage:
        async with asyncio.timeout(WAIT_S):
            while not self.to(address):
                self._arrived.clear()
                await self._arrived.wait()
        return self.to(address)[-1]


def body_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def link_in(mail: EmailMessage, path: str) -> str:
    found = re.search(r"https?://\S+" + re.escape(path) + r"\S+", body_of(mail))
    assert found, body_of(mail)
    return found.group(0)


@pytest.fixture(scope="session")
async def smtp_inbox() -> AsyncIterator[SmtpInbox]:
    inbox = SmtpInbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="mail.test"), "127.0.0.1", 0)
    inbox.port = server.sockets[0].getsockname()[1]
    yield inbox
    server.close()
    await server.wait_closed()


@pytest.fixture
async def mail_live(db_url: str, smtp_inbox: SmtpInbox) -> AsyncIterator[LiveServer]:
    """A live hub whose mail goes to ``smtp_inbox``; one per test, so the per-address rate
    limits (every test comes from 127.0.0.1) start afresh each time."""
    settings = make_settings(
        db_url,
        smtp_url=f"smtp://127.0.0.1:{smtp_inbox.port}",
        mail_from="Inviaro <hub@example.com>",
    )
    live, server, task = await start_server(settings)
    yield live
    server.should_exit = True
    await task
