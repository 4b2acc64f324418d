"""The hand-written client frame decoder the msgspec Structs of ``hub/codec.py`` replaced
(issue 14), kept here only as ``bench/frame_decode.py``'s baseline: orjson or msgpack into
a dict, then a check per field into frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
import orjson

from hub.codec import MAX_FRAME_BYTES, MAX_ID_CHARS, MAX_TEXT_CHARS, Format, ProtocolError

_MAX_SEQ = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Send:
    ref: str | int | None
    conversation_id: str | None
    text: str
    client_id: str | None = None
    # An operator's explicit yes to messaging a contact who objected (storage.processing).
    confirm_objection: bool = False
    # A visitor's tap on an option a flow offered: its value.
    option: str | None = None
    private: bool = False  # an operator's note: never reaches the visitor or a channel


@dataclass(frozen=True, slots=True)
class Typing:
    conversation_id: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class Read:
    conversation_id: str | None  # visitors may omit it: they have one conversation
    seq: int


@dataclass(frozen=True, slots=True)
class Resume:
    conversation_id: str
    after_seq: int


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ClientFrame = Send | Typing | Read | Resume | Ping


def decode_client_frame(
    data: str | bytes, fmt: Format, max_size: int = MAX_FRAME_BYTES
) -> ClientFrame:
    """Parse and validate one client frame. Raises only :class:`ProtocolError`."""
    if _too_large(data, max_size):
        raise ProtocolError("too_large", f"frames are limited to {max_size} bytes", None, 1009)
    obj = _parse(data, fmt)
    if not isinstance(obj, dict):
        raise ProtocolError("bad_frame", "a frame is an object")
    ref = _ref(obj.get("ref"))
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_frame", "type must be a string", ref)
    try:
        if kind == "send":
            return Send(
                ref,
                _opt_id(obj, "conversation_id"),
                _text(obj.get("text")),
                _opt_id(obj, "client_id"),
                obj.get("confirm_objection") is not None and _bool(obj, "confirm_objection"),
                _opt_id(obj, "option"),
                "private" in obj and _bool(obj, "private"),
            )
        if kind == "typing":
            return Typing(_opt_id(obj, "conversation_id"), _bool(obj, "active"))
        if kind == "read":
            return Read(_opt_id(obj, "conversation_id"), _seq(obj, "seq"))
        if kind == "resume":
            return Resume(_id(obj, "conversation_id"), _seq(obj, "after_seq"))
        if kind == "ping":
            return Ping()
    except ProtocolError as err:
        raise ProtocolError(err.code, err.detail, ref) from None
    raise ProtocolError("unknown_type", "unknown frame type", ref)


def _too_large(data: str | bytes, max_size: int) -> bool:
    if len(data) > max_size:
        return True
    # A text frame's size is its UTF-8 length; only count it when it could matter.
    if isinstance(data, str) and len(data) * 4 > max_size:
        return len(data.encode("utf-8", "surrogatepass")) > max_size
    return False


def _parse(data: str | bytes, fmt: Format) -> Any:
    # Parsers raise a zoo of exceptions on hostile input; they all mean the same thing.
    if fmt == "json":
        if not isinstance(data, str):
            raise ProtocolError("bad_frame", "inviaro.json uses text frames")
        try:
            return orjson.loads(data)
        except Exception:
            raise ProtocolError("bad_frame", "not valid JSON") from None
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProtocolError("bad_frame", "inviaro.msgpack uses binary frames")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, timestamp=0)
    except Exception:
        raise ProtocolError("bad_frame", "not valid msgpack") from None


def _ref(value: object) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= MAX_ID_CHARS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_SEQ:
        return value
    raise ProtocolError("bad_frame", "ref must be a short string or an integer")


def _id(obj: dict[Any, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise ProtocolError("bad_frame", f"{key} must be 1 to {MAX_ID_CHARS} characters")
    if "\x00" in value:
        raise ProtocolError("bad_frame", f"{key} must not contain a NUL character")
    return value


def _opt_id(obj: dict[Any, Any], key: str) -> str | None:
    return None if obj.get(key) is None else _id(obj, key)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError("bad_frame", "text must be a non-empty string")
    if len(value) > MAX_TEXT_CHARS:
        raise ProtocolError("too_large", f"text is limited to {MAX_TEXT_CHARS} characters")
    if "\x00" in value:
        # No text of ours holds one, and Postgres could not store it.
        raise ProtocolError("bad_frame", "text must not contain a NUL character")
    return value


def _bool(obj: dict[Any, Any], key: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise ProtocolError("bad_frame", f"{key} must be true or false")
    return value


def _seq(obj: dict[Any, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_SEQ:
        raise ProtocolError("bad_frame", f"{key} must be a non-negative integer")
    return value
