"""The WebSocket frames' schema is the frames the hub sends and takes: every server frame
builder's output decodes, strictly and in both formats, into the Struct that documents it
(web/contracts/websocket.py), and /openapi.json names every frame's component."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgpack
import msgspec
import orjson
import pytest

from hub import frames
from hub.model import Attachment, Author, Delivery, Message, SendFailure
from storage.serialize import conversation_to_wire
from web.contracts.websocket import SERVER_FRAMES, ServerFrame, tag_of
from web.openapi import build
from web.routes import all_routes

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
AGENT = Author("operator", "op_1", "Ana")
FAILED = Delivery(SendFailure("131047", "Outside the reply window."), 2, AT)
MESSAGE = Message(
    id="msg_1",
    workspace_id="ws_1",
    conversation_id="cv_1",
    seq=3,
    direction="out",
    author=AGENT,
    text="Hello",
    attachments=(Attachment("https://x.test/a.png", "image/png", "a.png", 10),),
    status="queued",
    created_at=AT,
    client_id="c1",
    options=(("Yes", "1"),),
    option="1",
    private=False,
    delivery=FAILED,
    sent_at=AT,
)
CONVERSATION = conversation_to_wire(
    SimpleNamespace(
        id="cv_1",
        status="open",
        assignee_id=None,
        team_id=None,
        tags=["vip"],
        last_seq=3,
        read_seq=1,
        snoozed_until=None,
        created_at=AT,
        updated_at=AT,
    ),
    SimpleNamespace(id="ch_1", kind="whatsapp", name="WA"),
    SimpleNamespace(id="ct_1", name=None),
    MESSAGE,
)

BUILT: list[dict[str, Any]] = [
    frames.hello("conn_1", 25),
    frames.message(MESSAGE),
    frames.message(Message("m", "w", "cv", 1, "in", Author("contact"), "hi", (), "received", AT)),
    frames.conversation(CONVERSATION),
    frames.typing("cv_1", AGENT, True),
    frames.presence("op_1", False),
    frames.receipt("cv_1", "msg_1", "read"),
    frames.receipt("cv_1", "msg_1", "queued", FAILED),
    frames.mention(MESSAGE),
    frames.ack("r1", MESSAGE),
    frames.ack(None, MESSAGE),
    frames.resumed("cv_1", 3),
    frames.error("bad_frame", "a frame is an object"),
    frames.error("rate_limited", "slow down", 7, "cv_1"),
    frames.pong(),
]


@pytest.mark.parametrize("frame", BUILT, ids=lambda f: str(f["type"]))
def test_every_built_frame_is_its_documented_struct(frame: dict[str, Any]) -> None:
    as_json = msgspec.json.decode(orjson.dumps(frame), type=ServerFrame, strict=True)
    as_msgpack = msgspec.msgpack.decode(msgpack.packb(frame), type=ServerFrame, strict=True)
    assert as_json == as_msgpack
    assert tag_of(type(as_json)) == frame["type"]


def test_every_server_frame_struct_has_a_builder_checked_above() -> None:
    assert {tag_of(f) for f in SERVER_FRAMES} == {f["type"] for f in BUILT}


def test_a_frame_the_struct_does_not_describe_fails_the_check() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"type":"presence","operator_id":"o"}', type=ServerFrame)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(orjson.dumps({**frames.pong(), "extra": 1}), type=ServerFrame)


def test_the_document_names_every_frames_component() -> None:
    document = build(all_routes())
    schemas = document["components"]["schemas"]
    described = document["x-websocket"]
    for side in ("server_frames", "client_frames"):
        for kind, ref in described[side].items():
            component = schemas[ref["$ref"].rsplit("/", 1)[1]]
            assert component["properties"]["type"] == {"enum": [kind]}
    send = schemas["WsClientSend"]
    assert send["properties"]["text"]["maxLength"] == 10_000
    assert send["properties"]["attachments"]["maxItems"] == 10
