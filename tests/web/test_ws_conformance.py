"""WebSocket conformance of the server configuration the hub runs in production
(``web.server.uvicorn_config``), case by case from Autobahn's testsuite, which cannot run
here (wstest needs Python 2 or Docker): a hand-written client sends the exact bytes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest

from tests.conftest import LiveServer
from tests.helpers import new_client, signup
from tests.web.raw_socket import (
    BINARY,
    CONT,
    PING,
    PONG,
    TEXT,
    RawSocket,
    close_frame,
    frame,
)
from tests.web.realtime import ORIGIN, visitor_session, widget_channel

PING_FRAME = b'{"type":"ping"}'
PONG_FRAME = {"type": "pong"}


@pytest.fixture
async def visitor(live: LiveServer) -> AsyncIterator[RawSocket]:
    """An anonymous website visitor's socket, past ``hello``."""
    async with new_client(live.url) as client:
        owner = await signup(client)
        session = await visitor_session(owner, await widget_channel(owner))
    sock = await RawSocket.open(session["ws_url"], {"Origin": ORIGIN})
    opcode, hello = await sock.read_frame()
    assert opcode == TEXT and orjson.loads(hello)["type"] == "hello"
    yield sock
    sock.close()


@pytest.fixture
def uvicorn_errors() -> Iterator[list[logging.LogRecord]]:
    """Records uvicorn logs at warning and above (its loggers do not reach the root)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


async def test_data_after_a_close_frame_is_ignored_and_the_close_is_normal(
    visitor: RawSocket,
) -> None:
    # Autobahn 7.1.4: close, then a text message.
    await visitor.send(close_frame(1000), frame(TEXT, PING_FRAME))
    assert await visitor.close_code() == 1000


async def test_a_close_between_fragments_closes_normally(visitor: RawSocket) -> None:
    # Autobahn 7.1.5: fragment 1, close, fragment 2 (control frames may come between
    # fragments; websockets alone answered 1002).
    await visitor.send(
        frame(TEXT, b'{"type":', fin=False), close_frame(1000), frame(CONT, b'"ping"}')
    )
    assert await visitor.close_code() == 1000


async def test_a_fragmented_text_message_is_one_frame(visitor: RawSocket) -> None:
    await visitor.send(
        frame(TEXT, b'{"ty', fin=False),
        frame(CONT, b'pe":"pi', fin=False),
        frame(PING, b"between"),  # a control frame between fragments is answered at once
        frame(CONT, b'ng"}'),
    )
    assert await visitor.read_frame() == (PONG, b"between")
    opcode, payload = await visitor.read_frame()
    assert (opcode, orjson.loads(payload)) == (TEXT, PONG_FRAME)


async def test_a_ping_is_echoed_in_a_pong(visitor: RawSocket) -> None:
    await visitor.send(frame(PING, b"are you there"))
    assert await visitor.read_frame() == (PONG, b"are you there")


async def test_invalid_utf8_closes_1007_without_a_traceback(
    visitor: RawSocket, uvicorn_errors: list[logging.LogRecord]
) -> None:
    await visitor.send(frame(TEXT, b'{"type":"ping","x":"\xff\xfe"}'))
    assert await visitor.close_code() == 1007
    assert uvicorn_errors == []


async def test_a_frame_over_the_limit_closes_1009(visitor: RawSocket, live: LiveServer) -> None:
    await visitor.send(frame(BINARY, b"x" * (live.settings.max_frame_bytes + 1)))
    assert await visitor.close_code() == 1009
