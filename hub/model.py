"""The domain's value types: what a message is, wherever it came from.

Every door (socket, REST, ingest API, channel webhook) turns its input into an
:class:`Inbound`; the store turns that into a :class:`Message` with its place (``seq``) in
its conversation. Adapters describe what a provider told us as :class:`ProviderMessage` and
:class:`ProviderStatus`. None of these types knows about HTTP, sockets or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from hub.ids import new_id

Direction = Literal["in", "out"]
AuthorKind = Literal["contact", "operator", "bot", "system"]
MessageStatus = Literal["received", "queued", "sending", "sent", "delivered", "read", "failed"]
ConversationStatus = Literal["open", "pending", "resolved"]
ChannelKind = Literal["widget", "whatsapp", "messenger", "instagram", "viber", "custom"]

CHANNEL_KINDS: tuple[ChannelKind, ...] = (
    "widget",
    "whatsapp",
    "messenger",
    "instagram",
    "viber",
    "custom",
)

# Delivery states only move forward: a late "delivered" never undoes a "read".
STATUS_RANK: dict[MessageStatus, int] = {
    "queued": 0,
    "received": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "failed": 5,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time (as SQLite hands them back) is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# Each message carries a few timestamps, most of them in the same second as the others:
# the digits up to the second are formatted once per second (the cache bounded), the
# milliseconds looked up. ``datetime.isoformat`` of an aware time costs five times that.
_SECONDS: dict[tuple[int, int, int, int, int, int], str] = {}
_SECONDS_KEPT = 4096
_SECOND_FORMAT = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}"
_MILLISECONDS = [f".{ms:03d}Z" for ms in range(1000)]


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a ``Z``, the contract's one time format."""
    if moment.tzinfo is not UTC and moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    second = moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
    digits = _SECONDS.get(second)
    if digits is None:
        if len(_SECONDS) >= _SECONDS_KEPT:
            _SECONDS.clear()
        digits = _SECONDS[second] = _SECOND_FORMAT.format(*second)
    return digits + _MILLISECONDS[moment.microsecond // 1000]


@dataclass(frozen=True, slots=True)
class Author:
    kind: AuthorKind
    id: str | None = None
    name: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name}


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file on a message. ``url`` is where a client fetches it (for provider media, our
    authenticated proxy route; for a file the hub keeps, its stable route, which answers
    with a short-lived signed link); ``provider_media_id`` is the provider's handle for it,
    ``media_id`` the hub's own (``storage.media``), ``thumbnail_url`` an image's preview."""

    url: str | None
    mime: str | None = None
    name: str | None = None
    size: int | None = None
    provider_media_id: str | None = None
    media_id: str | None = None
    thumbnail_url: str | None = None

    @property
    def at_provider(self) -> bool:
        """Whether only the provider holds the file (its media id, or an https URL that
        expires): the hub has yet to copy it into its own media storage."""
        return self.media_id is None and bool(
            self.provider_media_id or (self.url or "").startswith("https://")
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "url": self.url,
            "mime": self.mime,
            "name": self.name,
            "size": self.size,
        }
        if self.media_id:
            wire["media_id"] = self.media_id
            wire["thumbnail_url"] = self.thumbnail_url
        return wire

    def to_record(self) -> dict[str, Any]:
        record = self.to_wire()
        if self.provider_media_id:
            record["provider_media_id"] = self.provider_media_id
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Attachment:
        return cls(
            url=record.get("url"),
            mime=record.get("mime"),
            name=record.get("name"),
            size=record.get("size"),
            provider_media_id=record.get("provider_media_id"),
            media_id=record.get("media_id"),
            thumbnail_url=record.get("thumbnail_url"),
        )


@dataclass(frozen=True, slots=True)
class SendFailure:
    """Why an outbound message is not (yet) sent: ``code`` is the provider's error code or
    one of ours (``channel_deleted``, ``no_recipient``...), ``detail`` a sentence for people."""

    code: str
    detail: str

    def to_wire(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where an outbound send stands beside its status: the failure that stopped it (or,
    while ``queued`` again, the last attempt's), how many attempts ran, when the next one is."""

    error: SendFailure | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "error": self.error.to_wire() if self.error else None,
            "attempts": self.attempts,
            "next_attempt_at": rfc3339(self.next_attempt_at) if self.next_attempt_at else None,
        }


NO_DELIVERY = Delivery()
# Most messages have none: their wire keys, unpacked (so copied) into each message.
_NO_DELIVERY_WIRE = NO_DELIVERY.to_wire()


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message: it has its conversation's next ``seq`` and is never lost."""

    id: str
    workspace_id: str
    conversation_id: str
    seq: int
    direction: Direction
    author: Author
    text: str
    attachments: tuple[Attachment, ...]
    status: MessageStatus
    created_at: datetime
    client_id: str | None = None
    # A flow's choice offered to the contact, (label, value) pairs; and the value a
    # contact's message picked by tapping one.
    options: tuple[tuple[str, str], ...] = ()
    option: str | None = None
    # A private note: operators only, never a visitor's socket, never a channel.
    private: bool = False
    delivery: Delivery = NO_DELIVERY
    # When the message was sent, as its sender's system said (a provider's timestamp, the
    # ingest API's ``sent_at``); ``created_at`` is when the hub stored it.
    sent_at: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "direction": self.direction,
            "author": self.author.to_wire(),
            "text": self.text,
            "attachments": [a.to_wire() for a in self.attachments],
            "status": self.status,
            "client_id": self.client_id,
            "created_at": rfc3339(self.created_at),
            "private": self.private,
            **(_NO_DELIVERY_WIRE if self.delivery is NO_DELIVERY else self.delivery.to_wire()),
        }
        if self.options:
            wire["options"] = [{"label": label, "value": value} for label, value in self.options]
        if self.option is not None:
            wire["option"] = self.option
        if self.sent_at is not None:
            wire["sent_at"] = rfc3339(self.sent_at)
        return wire


@dataclass(frozen=True, slots=True)
class Reservation:
    """A widget visitor who has not written yet: nothing about them is stored until their
    first message, which creates the contact ``contact_id`` (with the channel identity
    ``external_id`` when it does not exist yet) and the conversation the message names."""

    contact_id: str
    external_id: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message on its way in, before it has a ``seq``.

    Either ``conversation_id`` names an existing conversation (operator replies, visitors,
    REST), or ``contact_external_id`` names the sender on ``channel_id`` and the store finds
    or creates the contact and its conversation (channel webhooks, the ingest API).
    ``client_id`` and ``provider_message_id`` are the idempotency keys: a second message
    with the same key returns the first one instead of storing again.
    """

    workspace_id: str
    channel_id: str
    direction: Direction
    author: Author
    text: str
    attachments: tuple[Attachment, ...] = ()
    conversation_id: str | None = None
    contact_external_id: str | None = None
    contact_name: str | None = None
    client_id: str | None = None
    provider_message_id: str | None = None
    status: MessageStatus = "received"
    sent_at: datetime | None = None
    id: str = field(default_factory=lambda: new_id("msg_"))
    # Structured content for the channel (``{"template": {name, language, parameters}}``).
    payload: dict[str, Any] | None = None
    # A private note (operators only; stored, never sent out, never shown to the visitor).
    private: bool = False
    # A widget visitor's first message: the store creates the reserved contact and
    # conversation (``conversation_id``) in the same transaction as the message.
    reservation: Reservation | None = None


@dataclass(frozen=True, slots=True)
class ProviderMessage:
    """A customer's message as a channel provider reported it (before any lookup)."""

    provider_message_id: str
    contact_external_id: str
    contact_name: str | None
    text: str
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime | None = None
    # The business's own message seen again (Messenger echo, typed in the native inbox):
    # stored as outbound, never treated as the customer's.
    echo: bool = False
    # The value of an option a flow offered that the contact tapped (a WhatsApp reply
    # button or list row id, a Messenger quick reply payload).
    option: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """A delivery report for a message we sent: ``provider_message_id`` is the provider's id."""

    provider_message_id: str
    status: MessageStatus
    at: datetime | None = None
    error: str | None = None  # a ``failed`` status: why, in words
    error_code: str | None = None  # and the provider's code for it


@dataclass(frozen=True, slots=True)
class ProviderWatermark:
    """Messenger/Instagram style receipt: everything sent to this contact before ``at``."""

    contact_external_id: str
    status: MessageStatus
    at: datetime


ChannelEvent = ProviderMessage | ProviderStatus | ProviderWatermark
