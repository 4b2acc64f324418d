"""The wire codec, fed bytes synchronously: frames out, or a ProtocolError, never anything else."""

from __future__ import annotations

import random
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.codec import (
    Ping,
    ProtocolError,
    Read,
    Resume,
    Send,
    Typing,
    decode_client_frame,
    encode,
    encode_msgpack,
    negotiate,
    subprotocol_for,
)


def err(data: str | bytes, fmt: str = "json", max_size: int = 65536) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_client_frame(data, fmt, max_size)  # type: ignore[arg-type]
    return info.value


def test_send_json() -> None:
    frame = decode_client_frame('{"type":"send","ref":"r1","text":"hi","client_id":"c1"}', "json")
    assert frame == Send(ref="r1", text="hi", client_id="c1")


def test_send_msgpack() -> None:
    data = msgpack.packb({"type": "send", "ref": 7, "conversation_id": "cv", "text": "yo"})
    assert decode_client_frame(data, "msgpack") == Send(ref=7, conversation_id="cv", text="yo")


def test_a_send_with_files_may_leave_out_the_text() -> None:
    frame = decode_client_frame('{"type":"send","attachments":["med_1","med_2"]}', "json")
    assert frame == Send(attachments=("med_1", "med_2"))


def test_a_send_with_neither_text_nor_files_is_refused() -> None:
    assert err('{"type":"send","ref":1,"attachments":[]}').code == "bad_frame"


def test_a_send_with_more_than_ten_files_is_refused() -> None:
    files = orjson.dumps({"type": "send", "text": "hi", "attachments": ["m"] * 11}).decode()
    assert err(files).code == "bad_frame"


def test_other_frames() -> None:
    assert decode_client_frame('{"type":"typing","active":true}', "json") == Typing(active=True)
    read = '{"type":"read","conversation_id":"c","seq":3}'
    assert decode_client_frame(read, "json") == Read(conversation_id="c", seq=3)
    resume = '{"type":"resume","conversation_id":"c","after_seq":0}'
    assert decode_client_frame(resume, "json") == Resume(conversation_id="c", after_seq=0)
    assert decode_client_frame('{"type":"ping"}', "json") == Ping()


def test_unknown_type_echoes_ref() -> None:
    e = err('{"type":"dance","ref":"x"}')
    assert (e.code, e.ref) == ("unknown_type", "x")


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "send", "text": "   "},
        {"type": "send", "text": 5},
        {"type": "send", "text": "hi", "conversation_id": "x" * 65},
        {"type": "read", "conversation_id": "c", "seq": True},
        {"type": "read", "conversation_id": "c", "seq": -1},
        {"type": "read", "conversation_id": "c", "seq": 1.5},
        {"type": "resume", "conversation_id": 3, "after_seq": 0},
        {"type": "typing", "active": "yes"},
        {"type": "send", "text": "hi", "ref": ["nested"]},
        {"type": 1},
        {},
    ],
)
def test_invalid_fields_are_bad_frame(frame: dict[str, object]) -> None:
    assert err(orjson.dumps(frame).decode()).code == "bad_frame"


def test_text_over_limit_is_too_large_but_answered() -> None:
    e = err(orjson.dumps({"type": "send", "ref": 1, "text": "a" * 10_001}).decode())
    assert (e.code, e.ref, e.close_code) == ("too_large", 1, None)


def test_oversized_frame_closes_1009() -> None:
    e = err('{"type":"ping","pad":"' + "é" * 20_000 + '"}', max_size=32_768)
    assert (e.code, e.close_code) == ("too_large", 1009)


def test_wrong_frame_kind_for_subprotocol() -> None:
    assert err(b'{"type":"ping"}', "json").code == "bad_frame"
    assert err('{"type":"ping"}', "msgpack").code == "bad_frame"


def test_not_an_object() -> None:
    assert err("[1,2]").code == "bad_frame"
    assert err(msgpack.packb([1]), "msgpack").code == "bad_frame"


def test_negotiate() -> None:
    assert negotiate(["inviaro.msgpack", "inviaro.json"]) == "msgpack"
    assert negotiate(["other", "inviaro.json"]) == "json"
    assert negotiate([]) == "json"
    assert subprotocol_for(["x", "inviaro.msgpack"]) == "inviaro.msgpack"
    assert subprotocol_for([]) is None


def test_encode_per_format() -> None:
    assert encode({"type": "pong"}, "json") == '{"type":"pong"}'
    assert msgpack.unpackb(encode({"type": "pong"}, "msgpack")) == {"type": "pong"}


# What a frame holds (no datetimes: times are RFC 3339 strings).
_FRAME_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=40)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=10)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=10), _FRAME_VALUES, max_size=10))
@settings(max_examples=100)
def test_a_msgpack_frame_is_the_bytes_msgpack_itself_packs(frame: dict[str, Any]) -> None:
    assert encode_msgpack(frame) == msgpack.packb(frame, use_bin_type=True)


_EDGE_INTS = [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1]
_EDGE_INTS += [-1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)]
_EDGE_SIZES = [0, 15, 16, 31, 32, 255, 256, 65535, 65536]


def test_msgpack_frames_match_msgpack_at_every_size_boundary() -> None:
    """Each form's edges: fixint to int/uint 64, fixstr to str 32, bin 8 to 32, fixarray
    to array 32 and fixmap to map 32."""
    values: list[Any] = [*_EDGE_INTS, 0.5, float("nan")]
    for n in _EDGE_SIZES:
        values += ["é" * n, b"x" * n, [None] * n, {str(k): k for k in range(n)}]
    for value in values:
        frame = {"value": value}
        assert encode_msgpack(frame) == msgpack.packb(frame, use_bin_type=True)


SEEDS = [
    {"type": "send", "ref": "r", "conversation_id": "c", "text": "hello", "client_id": "k"},
    {"type": "typing", "conversation_id": "c", "active": False},
    {"type": "read", "conversation_id": "c", "seq": 10},
    {"type": "resume", "conversation_id": "c", "after_seq": 0},
    {"type": "ping"},
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2:
            del buf[pos : pos + rng.randint(1, 8)]
        else:
            buf = buf[:pos]
    return bytes(buf)


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_garbage_never_raises_anything_but_protocol_error(fmt: str) -> None:
    rng = random.Random(1234)
    for i in range(3000):
        seed = SEEDS[i % len(SEEDS)]
        good = orjson.dumps(seed) if fmt == "json" else msgpack.packb(seed)
        data = mutate(rng, good) if i % 3 else bytes(rng.randrange(256) for _ in range(i % 64))
        as_wire: str | bytes = data.decode("utf-8", "surrogateescape") if fmt == "json" else data
        try:
            decode_client_frame(as_wire, fmt, 4096)  # type: ignore[arg-type]
        except ProtocolError as e:
            assert e.code in {"bad_frame", "unknown_type", "too_large"}


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "send", "text": "a\x00b"},
        {"type": "send", "text": "hi", "client_id": "c\x00"},
        {"type": "resume", "conversation_id": "c\x00", "after_seq": 0},
    ],
)
@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_a_nul_in_any_string_is_a_bad_frame(frame: dict[str, object], fmt: str) -> None:
    data = orjson.dumps(frame).decode() if fmt == "json" else msgpack.packb(frame)
    assert err(data, fmt).code == "bad_frame"


def test_a_refused_field_is_named_and_the_ref_echoed() -> None:
    e = err(orjson.dumps({"type": "read", "ref": "r", "seq": -1}).decode())
    assert (e.code, e.ref) == ("bad_frame", "r")
    assert e.detail.startswith("seq: ")


def test_the_same_structs_decode_both_formats() -> None:
    frame = {"type": "send", "ref": 3, "text": "hi", "private": True, "option": "o"}
    from_json = decode_client_frame(orjson.dumps(frame).decode(), "json")
    assert from_json == decode_client_frame(msgpack.packb(frame), "msgpack")
    assert from_json == Send(ref=3, text="hi", private=True, option="o")
