"""CPU to decode one client ``send`` frame: today's hand-written codec, msgspec Structs
(a tagged union) and a pydantic v2 TypeAdapter (a discriminated union), JSON and msgpack.

Issue 14 asked for the schema library to be picked with figures on the frame path; this
prints them (median of 7 rounds, µs per frame). Needs ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import msgpack
import msgspec
import orjson
from pydantic import BaseModel, Field, TypeAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.codec import decode_client_frame

FRAME = {
    "type": "send",
    "ref": 17,
    "conversation_id": "cnv_01HZX3Q4R5S6T7V8W9",
    "text": "Hello, is the shop open on Sunday?",
    "client_id": "c_8f7a6b5c",
}
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class MSend(msgspec.Struct, tag_field="type", tag="send"):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
    ref: str | int | None = None
    conversation_id: Id | None = None
    client_id: Id | None = None


class MPing(msgspec.Struct, tag_field="type", tag="ping"):
    pass


class PSend(BaseModel):
    type: Literal["send"]
    text: Annotated[str, Field(min_length=1, max_length=10_000)]
    ref: str | int | None = None
    conversation_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    client_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class PPing(BaseModel):
    type: Literal["ping"]


def per_frame_us(fn: Callable[[], object], n: int = 50_000) -> float:
    rounds = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(rounds)


def main() -> None:
    text, packed = orjson.dumps(FRAME).decode(), msgpack.packb(FRAME)
    json_struct = msgspec.json.Decoder(MSend | MPing)
    msgpack_struct = msgspec.msgpack.Decoder(MSend | MPing)
    adapter: TypeAdapter[PSend | PPing] = TypeAdapter(
        Annotated[PSend | PPing, Field(discriminator="type")]
    )
    cases: list[tuple[str, Callable[[], object]]] = [
        ("hand code, JSON", lambda: decode_client_frame(text, "json")),
        ("hand code, msgpack", lambda: decode_client_frame(packed, "msgpack")),
        ("msgspec, JSON", lambda: json_struct.decode(text)),
        ("msgspec, msgpack", lambda: msgpack_struct.decode(packed)),
        ("pydantic, JSON", lambda: adapter.validate_json(text)),
        ("pydantic, msgpack", lambda: adapter.validate_python(msgpack.unpackb(packed))),
    ]
    for name, fn in cases:
        print(f"{name:20s} {per_frame_us(fn):6.2f} µs/frame")


if __name__ == "__main__":
    main()
