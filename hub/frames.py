"""Server-to-client frames as plain dicts, exactly as CONTRACT.md spells them.

Builders return dicts (not dataclasses) because a frame is encoded once per format and
then shared by every recipient; a dict is what both orjson and msgpack take directly.
"""

from __future__ import annotations

from typing import Any

from hub.codec import ErrorCode
from hub.model import NO_DELIVERY, Author, Delivery, Message, MessageStatus

Frame = dict[str, Any]
PROTOCOL_VERSION = 1


def hello(connection_id: str, heartbeat_s: int) -> Frame:
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "connection_id": connection_id,
        "heartbeat_s": heartbeat_s,
    }


def message(msg: Message) -> Frame:
    return {"type": "message", "message": msg.to_wire()}


def conversation(conv: dict[str, Any]) -> Frame:
    return {"type": "conversation", "conversation": conv}


def typing(conversation_id: str, author: Author, active: bool) -> Frame:
    return {
        "type": "typing",
        "conversation_id": conversation_id,
        "author": author.to_wire(),
        "active": active,
    }


def presence(operator_id: str, online: bool) -> Frame:
    return {"type": "presence", "operator_id": operator_id, "online": online}


def receipt(
    conversation_id: str,
    message_id: str,
    status: MessageStatus,
    delivery: Delivery = NO_DELIVERY,
) -> Frame:
    """A status change; a send that failed or waits for a retry says why (``error``) and
    where it stands (``attempts``, ``next_attempt_at``)."""
    frame: Frame = {
        "type": "receipt",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "status": status,
    }
    if delivery != NO_DELIVERY:
        frame.update(delivery.to_wire())
    return frame


def mention(msg: Message) -> Frame:
    """A private note names this operator (sent to that operator's sockets only)."""
    return {"type": "mention", "conversation_id": msg.conversation_id, "message": msg.to_wire()}


def ack(ref: str | int | None, msg: Message) -> Frame:
    return {"type": "ack", "ref": ref, "message": msg.to_wire()}


def resumed(conversation_id: str, last_seq: int) -> Frame:
    return {"type": "resumed", "conversation_id": conversation_id, "last_seq": last_seq}


def error(
    code: ErrorCode, detail: str, ref: str | int | None = None, conversation_id: str | None = None
) -> Frame:
    frame: Frame = {"type": "error", "code": code, "detail": detail}
    if ref is not None:
        frame["ref"] = ref
    if conversation_id is not None:
        frame["conversation_id"] = conversation_id
    return frame


def pong() -> Frame:
    return {"type": "pong"}
