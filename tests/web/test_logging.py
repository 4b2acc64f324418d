"""Logs at info level and above never hold a message body, a password or a token."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import LiveServer
from tests.helpers import PASSWORD, api_token, new_client, signup
from tests.web.realtime import (
    close_all_sockets,
    operator_socket,
    visitor_session,
    visitor_socket,
    widget_channel,
)

BODY = "my card number is 4111-1111-1111-1111"


async def test_info_logs_hold_no_bodies_passwords_or_tokens(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with new_client(live.url) as client:
        owner = await signup(client)
        token = await api_token(owner)
        failed = await client.post(
            "/api/login", json={"email": owner.email, "password": "wrong-" + PASSWORD}
        )
        assert failed.status_code == 401
        session = await visitor_session(owner, await widget_channel(owner))
        operator = await operator_socket(owner, live.ws_url)
        visitor = await visitor_socket(session["ws_url"])
        await visitor.send({"type": "send", "ref": 1, "text": BODY})
        await operator.wait_for(type="message")
        await visitor.ws.send("x" * (live.settings.max_frame_bytes + 1))  # a refused frame
        await close_all_sockets()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for secret in (BODY, PASSWORD, token, session["visitor_token"], owner.csrf_token):
        assert secret not in logged


def test_request_lines_lose_their_tokens_before_they_are_logged() -> None:
    from web.server import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/widget?token=abc.def-ghi&x=1"),
        None,
    )
    RedactSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "WebSocket /ws/widget?token=…&x=1" [accepted]'
