"""Fuzz: thousands of malformed frames at /ws/operator and /ws/widget, on a real server.

Every frame is built to be refused (the hub's own codec confirms it before it is sent, so a
frame that happens to be valid is never thrown): each must be answered by exactly one
``error`` frame with a contract code, or (oversized) by close 1009. Afterwards the server
is up, a fresh socket still works, and no message was stored. Bounded and seeded: a
failure names its seed, and ``INVIARO_FUZZ_SEED`` replays it.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import msgpack
import orjson
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hub.codec import ProtocolError, Read, Resume, Send, Typing, decode_client_frame
from storage import models as m
from tests.conftest import LiveServer
from tests.helpers import Account, new_client, signup
from tests.web.realtime import (
    ORIGIN,
    Socket,
    close_all_sockets,
    operator_socket,
    visitor_session,
    visitor_socket,
    widget_channel,
)

SEED = int(os.environ.get("INVIARO_FUZZ_SEED") or 20261129)  # fixed: runs repeat exactly
FRAMES_PER_SOCKET = 1500
BATCH = 40
MAX_FRAME = 64 * 1024
ERROR_CODES = {"bad_frame", "unknown_type", "forbidden", "not_found", "too_large", "rate_limited"}
MISSING_CONVERSATION = "cv_doesnotexist0000000000"

JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -0.0,
    2**31,
    2**31 - 1,
    -(2**31),
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    "",
    " ",
    "\x00",
    "\u202e",
    "🙂" * 3,
    "x" * 65,
    "x" * 10_001,
    [],
    [1, 2],
    {},
    {"a": {"b": {"c": []}}},
    [[[[[[]]]]]],
    {"type": "send"},
]


@dataclass
class Target:
    socket: Socket
    fmt: str
    visitor: bool
    conversation_id: str


@pytest.fixture
async def scene(live: LiveServer) -> AsyncIterator[tuple[Account, str, str]]:
    """A workspace, and a visitor's socket URL and (reserved) conversation: the visitor has
    not written, so nothing of theirs is stored."""
    client = new_client(live.url)
    owner = await signup(client, workspace="Fuzz")
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    yield owner, session["ws_url"], session["conversation_id"]
    await close_all_sockets()
    await client.aclose()


def base_frames(conversation_id: str) -> list[dict[str, Any]]:
    return [
        {"type": "send", "ref": "r1", "conversation_id": conversation_id, "text": "hello"},
        {"type": "typing", "conversation_id": conversation_id, "active": True},
        {"type": "read", "conversation_id": conversation_id, "seq": 1},
        {"type": "resume", "conversation_id": conversation_id, "after_seq": 0},
        {"type": "ping"},
    ]


def mutate(rng: random.Random, frame: dict[str, Any]) -> Any:
    frame = dict(frame)
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        keys = list(frame) or ["type"]
        if roll < 0.45:
            frame[rng.choice(keys)] = rng.choice(JUNK)
        elif roll < 0.6:
            frame.pop(rng.choice(keys), None)
        elif roll < 0.75:
            frame["type"] = rng.choice(["", "SEND", "sendx", "hello", "ack", 7, None, "error"])
        elif roll < 0.85:
            frame[rng.choice(["extra", "__proto__", "conversation_id"])] = rng.choice(JUNK)
        else:
            return rng.choice([[frame], "frame", 42, None, [], True])
    return frame


def raw_junk(rng: random.Random, fmt: str, conversation_id: str) -> str | bytes:
    """One frame's payload as it goes on the wire (text or binary)."""
    frame = mutate(rng, rng.choice(base_frames(conversation_id)))
    roll = rng.random()
    as_json = orjson.dumps(frame).decode()
    try:
        as_msgpack: bytes = msgpack.packb(frame, use_bin_type=True)
    except (OverflowError, TypeError):
        as_msgpack = b"\xc1"
    if roll < 0.35:  # the right encoding of a wrong frame
        return as_json if fmt == "json" else as_msgpack
    if roll < 0.45:  # the wrong frame kind for the subprotocol
        return as_json.encode() if fmt == "json" else as_json
    if roll < 0.55:  # truncated
        cut = rng.randint(0, max(0, len(as_json) - 1))
        return as_json[:cut] if fmt == "json" else as_msgpack[: rng.randint(0, len(as_msgpack))]
    if roll < 0.65:  # random bytes
        data = rng.randbytes(rng.randint(0, 300))
        return data if fmt == "msgpack" or rng.random() < 0.3 else data.decode("latin-1")
    if roll < 0.72:  # deep nesting
        depth = rng.choice([100, 1000, 5000, 20000])
        if fmt == "json":
            return "[" * depth + "]" * depth
        return b"\x91" * depth + b"\x90"
    if roll < 0.8:  # numbers no decoder should trust
        big = rng.choice(["9" * 400, "1e999", "-1e999", "NaN", "Infinity", "0x10", "01"])
        text = f'{{"type":"read","conversation_id":"{conversation_id}","seq":{big}}}'
        if fmt == "json":
            return text
        return rng.choice(
            [b"\xcf" + b"\xff" * 8, b"\xd3\x80" + b"\x00" * 7, b"\xcb" + b"\x7f\xf8" + b"\x00" * 6]
        )
    if roll < 0.88:  # msgpack specials: binary keys, int keys, ext types, huge headers
        specials = [
            msgpack.packb({b"type": b"send"}, use_bin_type=True),
            msgpack.packb({1: "send"}),
            msgpack.packb(msgpack.ExtType(5, b"\x00" * 8)),
            msgpack.packb(
                {"type": "read", "conversation_id": conversation_id, "seq": msgpack.Timestamp(0)}
            ),
            b"\xdd\xff\xff\xff\xff",  # an array claiming 4 billion items
            b"\xdf\xff\xff\xff\xff",
            b"\xdb\xff\xff\xff\xff",
        ]
        data = rng.choice(specials)
        return data if fmt == "msgpack" else data.decode("latin-1")
    # Unicode the JSON decoder must refuse or handle
    text = rng.choice(
        ['{"type":"ping"', '{"type":"\\ud800"}', '{"type":1e5}', "\ufeff{}", "{}" * 50]
    )
    return text if fmt == "json" else text.encode()


def refused(data: str | bytes, target: Target) -> bool:
    """Whether the hub must refuse ``data`` with one error frame (and store nothing)."""
    try:
        frame = decode_client_frame(data, target.fmt, MAX_FRAME)  # type: ignore[arg-type]
    except ProtocolError as err:
        return err.close_code is None
    conversation = getattr(frame, "conversation_id", None)
    if not isinstance(frame, Send | Typing | Read | Resume):
        return False  # a ping: answered with pong, not thrown
    if target.visitor:
        return conversation is not None and conversation != target.conversation_id
    return conversation == MISSING_CONVERSATION


async def sync(socket: Socket) -> list[dict[str, Any]]:
    """Everything the server sent before the pong to our ping."""
    await socket.send({"type": "ping"})
    frames = []
    while True:
        frame = await socket.recv()
        if frame.get("type") == "pong":
            return frames
        frames.append(frame)


async def throw(rng: random.Random, target: Target, count: int) -> int:
    """Throw ``count`` refused frames at one socket, in batches; returns how many were sent."""
    thrown = 0
    await sync(target.socket)  # presence frames after hello
    while thrown < count:
        batch: list[str | bytes] = []
        while len(batch) < BATCH:
            data = raw_junk(rng, target.fmt, target.conversation_id)
            if refused(data, target):
                batch.append(data)
        for data in batch:
            await target.socket.ws.send(data)
        replies = await sync(target.socket)
        kinds = {(f.get("type"), f.get("code")) for f in replies}
        assert all(f.get("type") == "error" and f.get("code") in ERROR_CODES for f in replies), (
            f"seed {SEED}: unexpected replies {kinds}"
        )
        assert len(replies) == len(batch), (
            f"seed {SEED}: {len(batch)} frames, {len(replies)} errors"
        )
        thrown += len(batch)
    return thrown


async def message_count(live: LiveServer, workspace_id: str) -> int:
    services: Any = live.app.state.services  # type: ignore[attr-defined]
    async with services.engine.connect() as conn:
        query = select(func.count()).select_from(m.Message)
        return int(await conn.scalar(query.where(m.Message.workspace_id == workspace_id)))


async def test_thousands_of_malformed_frames_get_errors_and_store_nothing(
    live: LiveServer, scene: tuple[Account, str, str]
) -> None:
    owner, ws_url, conversation_id = scene
    rng = random.Random(SEED)
    targets = [
        Target(
            await operator_socket(owner, live.ws_url, "json"), "json", False, MISSING_CONVERSATION
        ),
        Target(
            await operator_socket(owner, live.ws_url, "msgpack"),
            "msgpack",
            False,
            MISSING_CONVERSATION,
        ),
        Target(await visitor_socket(ws_url, "json"), "json", True, conversation_id),
        Target(await visitor_socket(ws_url, "msgpack"), "msgpack", True, conversation_id),
    ]
    thrown = await asyncio.gather(*(throw(rng, t, FRAMES_PER_SOCKET) for t in targets))
    assert sum(thrown) >= 4 * FRAMES_PER_SOCKET
    for target in targets:  # every socket is still open and answering
        assert await sync(target.socket) == []
    async with live.client() as client:
        assert (await client.get("/healthz")).status_code == 200
    messages = await owner.get(f"/api/conversations/{conversation_id}/messages")
    assert messages.status_code == 404  # not even the conversation: the visitor never wrote
    assert await message_count(live, owner.workspace_id) == 0


OVERSIZED: list[Callable[[], str | bytes]] = [
    lambda: "x" * (MAX_FRAME + 1),
    lambda: orjson.dumps({"type": "send", "text": "y" * MAX_FRAME}).decode(),
    lambda: b"\x00" * (MAX_FRAME * 4),
    lambda: "🙂" * (MAX_FRAME // 4 + 1),  # few characters, too many UTF-8 bytes
]


@pytest.mark.parametrize("endpoint", ["operator", "widget"])
async def test_oversized_frames_close_1009_and_the_hub_stays_up(
    live: LiveServer, scene: tuple[Account, str, str], endpoint: str
) -> None:
    owner, ws_url, _ = scene
    for make in OVERSIZED:
        for fmt in ("json", "msgpack"):
            if endpoint == "operator":
                socket = await operator_socket(owner, live.ws_url, fmt)
            else:
                socket = await visitor_socket(ws_url, fmt)
            await socket.ws.send(make())
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await socket.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code in (1009, 1008, 1003, 1007)
    fresh = await visitor_socket(ws_url)
    assert await sync(fresh) == []
    assert await message_count(live, owner.workspace_id) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "https://evil.example"},
        {"Authorization": "Bearer ivt_nope"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Cookie": "inviaro_session=forged.value"},
        {"Cookie": "inviaro_session=" + "A" * 4000},
    ],
)
async def test_bad_operator_handshakes_are_refused_with_403(
    live: LiveServer, headers: dict[str, str]
) -> None:
    with pytest.raises(Exception) as refused_:
        async with connect(f"{live.ws_url}/ws/operator", additional_headers=headers):
            pass
    response = getattr(refused_.value, "response", None)
    assert response is not None and response.status_code == 403


@pytest.mark.parametrize(
    "query", ["", "?token=", "?token=forged", "?token=" + "A" * 3000, "?token=%00%ff", "?x=1"]
)
async def test_bad_widget_handshakes_are_refused_with_403(live: LiveServer, query: str) -> None:
    with pytest.raises(Exception) as refused_:
        async with connect(
            f"{live.ws_url}/ws/widget{query}", additional_headers={"Origin": ORIGIN}
        ):
            pass
    response = getattr(refused_.value, "response", None)
    assert response is not None and response.status_code == 403
    async with httpx.AsyncClient(base_url=live.url) as client:
        assert (await client.get("/healthz")).status_code == 200
