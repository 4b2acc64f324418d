"""Outgoing mail: one plain-text message at a time, through the SMTP server of
``INVIARO_SMTP_URL`` (aiosmtplib), from ``INVIARO_MAIL_FROM``.

``smtp://`` upgrades to TLS when the server offers STARTTLS, ``smtp+starttls://`` insists
on it, ``smtps://`` speaks TLS from the first byte. User and password, when the URL has
them, are percent-decoded and used for AUTH. Failures become :class:`MailError` with a
sentence safe to show an admin: never the URL, password or message body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from web.config import Settings

log = logging.getLogger("inviaro.mail")

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class MailError(Exception):
    """The mail could not be handed to the SMTP server; the message is one sentence."""


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # TLS from the first byte (smtps)
    start_tls: bool | None  # True: required; None: when offered


def smtp_server(url: str) -> SmtpServer:
    """The server named by an ``INVIARO_SMTP_URL`` (already checked by web/config.py)."""
    parts = urlsplit(url)
    scheme = parts.scheme
    return SmtpServer(
        host=parts.hostname or "",
        port=parts.port or _DEFAULT_PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=scheme == "smtps",
        start_tls=True if scheme == "smtp+starttls" else (False if scheme == "smtps" else None),
    )


def message(settings: Settings, to: str, subject: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(text)
    return mail


async def send(settings: Settings, to: str, subject: str, text: str) -> None:
    """Hand one message to the SMTP server, or raise :class:`MailError`."""
    if not settings.smtp_url:
        raise MailError("Mail is not configured on this server (INVIARO_SMTP_URL).")
    server = smtp_server(settings.smtp_url)
    try:
        await aiosmtplib.send(
            message(settings, to, subject, text),
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.use_tls,
            start_tls=server.start_tls,
            timeout=20,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        # The class only: an SMTP reply may quote the recipient or our credentials' user.
        log.warning("mail to the SMTP server failed: %s", type(exc).__name__)
        raise MailError("The mail server did not accept the message.") from None
