"""The WebSocket wire codec, sans-I/O: bytes in, typed client frames out; dicts in, bytes out.

It never touches a socket. The client frames are defined once, as a msgspec tagged union
(:data:`ClientFrame`): the same Structs decode JSON and msgpack and are the frames'
schema in ``/openapi.json``. :func:`decode_client_frame` turns *any* input into either a
frame or a :class:`ProtocolError` carrying a contract error code, so the endpoint needs
exactly one ``except`` and no exception detail from a parser ever reaches the peer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

import msgspec
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


# No string of a frame may hold a NUL (U+0000): Postgres could not store or compare it.
# The frames check that in ``__post_init__``: a ``pattern`` would cost 0.3 µs a string.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=_MAX_SEQ)]
Ref = (
    Annotated[str, msgspec.Meta(max_length=MAX_ID_CHARS)]
    | Annotated[int, msgspec.Meta(ge=-_MAX_SEQ, le=_MAX_SEQ)]
    | None
)


def _refuse_nul(*values: str | None) -> None:
    for value in values:
        if value is not None and "\x00" in value:
            raise ValueError("no string of a frame may contain a NUL character")


class _Frame(msgspec.Struct, tag_field="type", frozen=True, kw_only=True, gc=False):
    """A client frame: its ``type`` is its tag; keys a frame does not know are ignored."""


class Send(_Frame, tag="send", frozen=True, kw_only=True):
    """A message: an operator's into ``conversation_id``, a visitor's into their own.
    ``client_id`` makes a resend idempotent; ``confirm_objection`` (operators) sends to a
    contact who objected; ``option`` (visitors) is the value of a flow's option tapped."""

    ref: Ref = None
    conversation_id: Id | None = None
    # May be empty (or left out) when the message carries files.
    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)] = ""
    client_id: Id | None = None
    # An operator's explicit yes to messaging a contact who objected (storage.processing).
    confirm_objection: bool | None = None
    # A visitor's tap on an option a flow offered: its value.
    option: Id | None = None
    private: bool = False  # an operator's note: never reaches the visitor or a channel
    # Files uploaded beforehand (``POST …/files``), by media id.
    attachments: Annotated[tuple[Id, ...], msgspec.Meta(max_length=MAX_ATTACHMENTS)] = ()

    def __post_init__(self) -> None:
        if not self.attachments and not self.text.strip():
            raise ValueError("text must be a non-empty string")
        _refuse_nul(self.text, self.conversation_id, self.client_id, self.option)
        _refuse_nul(*self.attachments)


class Typing(_Frame, tag="typing", frozen=True, kw_only=True):
    """The author started (``active``) or stopped typing."""

    conversation_id: Id | None = None
    active: bool

    def __post_init__(self) -> None:
        _refuse_nul(self.conversation_id)


class Read(_Frame, tag="read", frozen=True, kw_only=True):
    """Read up to ``seq``; a visitor's read reaches operators as ``receipt`` frames."""

    conversation_id: Id | None = None  # visitors may omit it: they have one conversation
    seq: Seq

    def __post_init__(self) -> None:
        _refuse_nul(self.conversation_id)


class Resume(_Frame, tag="resume", frozen=True, kw_only=True):
    """Replay every message after ``after_seq``, in order, then ``resumed``."""

    conversation_id: Id
    after_seq: Seq

    def __post_init__(self) -> None:
        _refuse_nul(self.conversation_id)


class Ping(_Frame, tag="ping", frozen=True, kw_only=True):
    """Keepalive; answered with ``pong``."""


ClientFrame = Send | Typing | Read | Resume | Ping
_TYPES = frozenset(t.__struct_config__.tag for t in (Send, Typing, Read, Resume, Ping))
_JSON = msgspec.json.Decoder(ClientFrame)
_MSGPACK = msgspec.msgpack.Decoder(ClientFrame)


def client_frame_schemas(prefix: str) -> dict[str, Any]:
    """JSON Schema of every client frame for OpenAPI, each named ``<prefix><Frame>`` so
    none meets another schema of the API."""
    _, components = msgspec.json.schema_components(
        [ClientFrame], ref_template="#/components/schemas/" + prefix + "{name}"
    )
    return {prefix + name: value for name, value in components.items()}


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


# msgspec writes the same bytes as ``msgpack.packb(frame, use_bin_type=True)`` (the
# smallest form of each value) at a third of the CPU: every bus event is packed once.
_MSGPACK_ENCODER = msgspec.msgpack.Encoder()


def encode_msgpack(frame: dict[str, Any]) -> bytes:
    return _MSGPACK_ENCODER.encode(frame)


# The way back for what encode_msgpack packed (a bus payload): half the CPU of
# ``msgpack.unpackb``.
decode_msgpack = msgspec.msgpack.Decoder().decode


def encode(frame: dict[str, Any], fmt: Format) -> str | bytes:
    """A server frame as the socket wants it: text for JSON, binary for msgpack."""
    return encode_json(frame) if fmt == "json" else encode_msgpack(frame)


def decode_client_frame(
    data: str | bytes, fmt: Format, max_size: int = MAX_FRAME_BYTES
) -> ClientFrame:
    """Parse and validate one client frame. Raises only :class:`ProtocolError`.

    A good frame takes one pass of msgspec over the bytes; a refused one is read again,
    untyped, to say why (and to echo its ``ref``)."""
    if _too_large(data, max_size):
        raise ProtocolError("too_large", f"frames are limited to {max_size} bytes", None, 1009)
    if fmt == "json" and not isinstance(data, str):
        raise ProtocolError("bad_frame", "inviaro.json uses text frames")
    if fmt == "msgpack" and isinstance(data, str):
        raise ProtocolError("bad_frame", "inviaro.msgpack uses binary frames")
    try:
        # After the checks above, a text frame is JSON and a binary one msgpack.
        return _JSON.decode(data) if isinstance(data, str) else _MSGPACK.decode(data)
    except Exception as err:  # parsers raise a zoo of exceptions on hostile input
        raise _refusal(data, err) from None


class _Head(msgspec.Struct):
    """What the answer to a refused frame needs: its ``ref`` to echo, its type, its text."""

    ref: Ref = None
    type: Any = None
    text: Any = None


_HEAD_JSON = msgspec.json.Decoder(_Head)
_HEAD_MSGPACK = msgspec.msgpack.Decoder(_Head)


def _refusal(data: str | bytes, err: Exception) -> ProtocolError:
    """Why a frame was refused, in the contract's codes, with its ``ref`` when it has one."""
    try:
        head = _HEAD_JSON.decode(data) if isinstance(data, str) else _HEAD_MSGPACK.decode(data)
    except Exception:
        return _unreadable(data)
    ref, kind = head.ref, head.type
    if not isinstance(kind, str):
        return ProtocolError("bad_frame", "type must be a string", ref)
    if kind not in _TYPES:
        return ProtocolError("unknown_type", "unknown frame type", ref)
    if kind == "send" and isinstance(head.text, str) and len(head.text) > MAX_TEXT_CHARS:
        return ProtocolError("too_large", f"text is limited to {MAX_TEXT_CHARS} characters", ref)
    message, _, where = str(err).partition(" - at `")
    field = where.rstrip("`").removeprefix("$").removeprefix(".")
    return ProtocolError("bad_frame", f"{field}: {message}" if field else message, ref)


def _unreadable(data: str | bytes) -> ProtocolError:
    """A frame without even a readable ``ref``: not JSON (msgpack), not an object, or a bad ref."""
    try:
        obj = msgspec.json.decode(data) if isinstance(data, str) else msgspec.msgpack.decode(data)
    except Exception:
        return ProtocolError(
            "bad_frame", f"not valid {'JSON' if isinstance(data, str) else 'msgpack'}"
        )
    if not isinstance(obj, dict):
        return ProtocolError("bad_frame", "a frame is an object")
    return ProtocolError("bad_frame", "ref must be a short string or an integer")


def _too_large(data: str | bytes, max_size: int) -> bool:
    if len(data) > max_size:
        return True
    # A text frame's size is its UTF-8 length; only count it when it could matter.
    if isinstance(data, str) and len(data) * 4 > max_size:
        return len(data.encode("utf-8", "surrogatepass")) > max_size
    return False
