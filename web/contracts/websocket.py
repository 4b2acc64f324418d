"""The WebSocket frames' schema: the server frames as Structs, the client frames from the
codec, both as components of ``/openapi.json`` (referenced from its ``x-websocket``).

The hub builds server frames as dicts (:mod:`hub.frames`: one dict, encoded once per
format, shared by every recipient); these Structs say what each builder must produce, and
``tests/web/test_frame_schemas.py`` decodes every builder's output into its Struct, strictly. The
client frames are the codec's own Structs (:mod:`hub.codec`), which decode the wire.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import UNSET, Meta, UnsetType

from hub.codec import ErrorCode, client_frame_schemas
from web.contracts.common import Author, Conversation, Message, SendError

Ref = str | int | None
DateTime = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class _Frame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    """A server frame: its ``type`` is its tag."""


class WsServerHello(_Frame, tag="hello", forbid_unknown_fields=True):
    """The first frame on every socket."""

    protocol: Literal[1]
    connection_id: str
    heartbeat_s: Annotated[int, Meta(description="Ping at least this often; seconds.")]


class WsServerMessage(_Frame, tag="message", forbid_unknown_fields=True):
    """A new message."""

    message: Message


class WsServerConversation(_Frame, tag="conversation", forbid_unknown_fields=True):
    """A conversation created or changed (operators)."""

    conversation: Conversation


class WsServerTyping(_Frame, tag="typing", forbid_unknown_fields=True):
    conversation_id: str
    author: Author
    active: bool


class WsServerPresence(_Frame, tag="presence", forbid_unknown_fields=True):
    """An operator going on- or offline (operators)."""

    operator_id: str
    online: bool


class WsServerReceipt(_Frame, tag="receipt", forbid_unknown_fields=True):
    """A message's status changed; a send that failed or waits for a retry says why."""

    conversation_id: str
    message_id: str
    status: Literal["received", "queued", "sending", "sent", "delivered", "read", "failed"]
    error: SendError | UnsetType | None = UNSET
    attempts: Annotated[int, Meta(ge=0)] | UnsetType = UNSET
    next_attempt_at: DateTime | UnsetType | None = UNSET


class WsServerMention(_Frame, tag="mention", forbid_unknown_fields=True):
    """A private note names this operator (to that operator's sockets only)."""

    conversation_id: str
    message: Message


class WsServerAck(_Frame, tag="ack", forbid_unknown_fields=True):
    """Your ``send`` was durably accepted (or was already: same ``client_id``)."""

    ref: Annotated[Ref, Meta(description="The send's ref.")]
    message: Message


class WsServerResumed(_Frame, tag="resumed", forbid_unknown_fields=True):
    """The replay a ``resume`` asked for is complete."""

    conversation_id: str
    last_seq: int


class WsServerError(_Frame, tag="error", forbid_unknown_fields=True):
    """A frame refused; the socket stays open."""

    code: ErrorCode
    detail: str
    ref: Annotated[str | int, Meta(description="The refused frame's ref.")] | UnsetType = UNSET
    conversation_id: str | UnsetType = UNSET


class WsServerPong(_Frame, tag="pong", forbid_unknown_fields=True):
    """The answer to a ``ping``."""


ServerFrame = (
    WsServerHello
    | WsServerMessage
    | WsServerConversation
    | WsServerTyping
    | WsServerPresence
    | WsServerReceipt
    | WsServerMention
    | WsServerAck
    | WsServerResumed
    | WsServerError
    | WsServerPong
)
SERVER_FRAMES: tuple[type[_Frame], ...] = get_args(ServerFrame)
CLIENT_PREFIX = "WsClient"


def tag_of(frame: type[msgspec.Struct]) -> str:
    return str(frame.__struct_config__.tag)


def client_frames() -> dict[str, Any]:
    """The client frames' schemas, named ``WsClient<Frame>`` (``WsClientSend``…)."""
    return client_frame_schemas(CLIENT_PREFIX)


def frame_refs(schemas: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``x-websocket``'s ``server_frames`` and ``client_frames``: each frame's type to its
    component, for the document (``schemas``: the client frames' components)."""
    ref = "#/components/schemas/{}"
    server = {tag_of(f): {"$ref": ref.format(f.__name__)} for f in SERVER_FRAMES}
    client = {
        value["properties"]["type"]["enum"][0]: {"$ref": ref.format(name)}
        for name, value in schemas.items()
        if "type" in value.get("properties", {})
    }
    return server, client
