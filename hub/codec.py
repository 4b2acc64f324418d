"""The WebSocket wire codec, sans-I/O: bytes in, typed client frames out; dicts in, bytes out.

It never touches a socket. :func:`decode_client_frame` turns *any* input into either a
frame or a :class:`ProtocolError` carrying a contract error code, so the endpoint needs
exactly one ``except`` and no exception detail from a parser ever reaches the peer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgpack
import orjson

Format = Literal["json", "msgpack"]
ErrorCode = Literal[
    "bad_frame",
    "unknown_type",
    "forbidden",
    "not_found",
    "too_large",
    "rate_limited",
    "window_closed",
    "contact_objected",
    "consent_required",
]

SUBPROTOCOLS: dict[str, Format] = {"inviaro.json": "json", "inviaro.msgpack": "msgpack"}
MAX_FRAME_BYTES = 64 * 1024
MAX_TEXT_CHARS = 10_000
MAX_ID_CHARS = 64
MAX_ATTACHMENTS = 10  # files on one message
_MAX_SEQ = 2**31 - 1  # seq is a 32-bit column


class ProtocolError(Exception):
    """A client frame the hub refuses; ``code`` is the contract's error code."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        ref: str | int | None = None,
        close_code: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: ErrorCode = code
        self.detail = detail
        self.ref = ref
        # Set when the socket must be closed rather than answered (1009: frame too large).
        self.close_code = close_code


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
    # Files uploaded beforehand (``POST …/files``), by media id; then text may be empty.
    attachments: tuple[str, ...] = ()


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


def negotiate(subprotocols: Iterable[str]) -> Format:
    """The format for the client's offer: its first known subprotocol, else JSON."""
    for offered in subprotocols:
        fmt = SUBPROTOCOLS.get(offered.strip())
        if fmt is not None:
            return fmt
    return "json"


def subprotocol_for(subprotocols: Iterable[str]) -> str | None:
    """The subprotocol to echo in the handshake (None when the client offered none of ours)."""
    for offered in subprotocols:
        if offered.strip() in SUBPROTOCOLS:
            return offered.strip()
    return None


def encode_json(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


def encode_msgpack(frame: dict[str, Any]) -> bytes:
    return msgpack.packb(frame, use_bin_type=True)  # type: ignore[no-any-return]


def encode(frame: dict[str, Any], fmt: Format) -> str | bytes:
    """A server frame as the socket wants it: text for JSON, binary for msgpack."""
    return encode_json(frame) if fmt == "json" else encode_msgpack(frame)


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
            attachments = _attachments(obj)
            return Send(
                ref,
                _opt_id(obj, "conversation_id"),
                _text(obj.get("text"), empty_ok=bool(attachments)),
                _opt_id(obj, "client_id"),
                obj.get("confirm_objection") is not None and _bool(obj, "confirm_objection"),
                _opt_id(obj, "option"),
                "private" in obj and _bool(obj, "private"),
                attachments,
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


def _attachments(obj: dict[Any, Any]) -> tuple[str, ...]:
    value = obj.get("attachments")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise ProtocolError("bad_frame", f"attachments must list at most {MAX_ATTACHMENTS} ids")
    return tuple(_id({"attachment": item}, "attachment") for item in value)


def _text(value: object, *, empty_ok: bool = False) -> str:
    if empty_ok and (value is None or value == ""):
        return ""
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
