"""CPU to decode one client frame: the hub's codec (msgspec Structs, a tagged union), the
hand-written decoder it replaced (``bench/hand_codec.py``) and a pydantic v2 TypeAdapter
(a discriminated union), each in JSON and msgpack.

Issue 14 asked for the schema library to be picked with figures on the frame path, and
for the move to be no slower than before; this prints both, in µs per frame, the best of
7 rounds (on a shared machine the minimum is what the code costs, the rest is other
load): a ``send`` (the frame that matters), a ``ping`` and a refused ``send`` (its
conversation id too long: the refusal path reads the frame twice). Needs
``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import msgpack
import orjson
from pydantic import BaseModel, Field, TypeAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import hand_codec
from hub.codec import ProtocolError, decode_client_frame

SEND = {
    "type": "send",
    "ref": 17,
    "conversation_id": "cnv_01HZX3Q4R5S6T7V8W9",
    "text": "Hello, is the shop open on Sunday?",
    "client_id": "c_8f7a6b5c",
}
FRAMES = {"send": SEND, "ping": {"type": "ping"}, "refused": {**SEND, "conversation_id": "c" * 65}}
Id = Annotated[str, Field(min_length=1, max_length=64)]


class PSend(BaseModel):
    type: Literal["send"]
    text: Annotated[str, Field(min_length=1, max_length=10_000)]
    ref: str | int | None = None
    conversation_id: Id | None = None
    client_id: Id | None = None


class PPing(BaseModel):
    type: Literal["ping"]


def per_frame_us(fn: Callable[[], object], n: int = 50_000) -> float:
    rounds = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - started) / n * 1e6)
    return min(rounds)


def refusing(decode: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        try:
            return decode()
        except ProtocolError as err:
            return err
        except ValueError as err:  # pydantic's ValidationError
            return err

    return call


def main() -> None:
    adapter: TypeAdapter[PSend | PPing] = TypeAdapter(
        Annotated[PSend | PPing, Field(discriminator="type")]
    )
    print(f"{'µs per frame':24s}" + "".join(f"{name:>10s}" for name in FRAMES))
    wire: dict[str, tuple[str, bytes]] = {
        name: (orjson.dumps(frame).decode(), msgpack.packb(frame)) for name, frame in FRAMES.items()
    }
    decoders: list[tuple[str, Callable[[str, bytes], Callable[[], Any]]]] = [
        ("hub codec, JSON", lambda t, _p: lambda: decode_client_frame(t, "json")),
        ("hub codec, msgpack", lambda _t, p: lambda: decode_client_frame(p, "msgpack")),
        ("hand code, JSON", lambda t, _p: lambda: hand_codec.decode_client_frame(t, "json")),
        ("hand code, msgpack", lambda _t, p: lambda: hand_codec.decode_client_frame(p, "msgpack")),
        ("pydantic, JSON", lambda t, _p: lambda: adapter.validate_json(t)),
        ("pydantic, msgpack", lambda _t, p: lambda: adapter.validate_python(msgpack.unpackb(p))),
    ]
    for label, make in decoders:
        figures = [per_frame_us(refusing(make(*wire[name]))) for name in FRAMES]
        print(f"{label:24s}" + "".join(f"{f:10.2f}" for f in figures))


if __name__ == "__main__":
    main()
