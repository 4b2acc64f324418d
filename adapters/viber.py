"""Viber REST bot API: signed callbacks in, ``send_message`` out.

Callbacks carry ``X-Viber-Content-Signature``: the bare lowercase hex HMAC-SHA256 of the
raw body keyed with the bot's auth token. ``message_token`` is an int64 and becomes a
string id. ``subscribed``, ``unsubscribed``, ``conversation_started`` and the ``webhook``
check give no event (the caller still answers 200: Viber's ``set_webhook`` fails
otherwise). Viber media URLs are public but expire; they are kept as ``Attachment.url``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.base import (
    PayloadError,
    ProviderError,
    SendError,
    SendResult,
    as_dict,
    as_id,
    clip,
    epoch_millis,
    header,
    hmac_sha256_hex_matches,
    load_json_object,
    location_text,
    opt_str,
    register,
    require_content,
    require_str,
    response_json,
    retry_after_seconds,
    retryable_status,
    transport_error,
)
from hub.model import Attachment, ChannelEvent, MessageStatus, ProviderMessage, ProviderStatus

API_BASE = "https://chatapi.viber.com/pa"
SIGNATURE_HEADER = "X-Viber-Content-Signature"
DEFAULT_EVENT_TYPES = (
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
)
SENDER_NAME_MAX = 28  # Viber's limit for sender.name

# Events that are about a contact's subscription, not a message: no hub event (yet).
_IGNORED_EVENTS = frozenset(
    {"subscribed", "unsubscribed", "conversation_started", "webhook", "client_status", "action"}
)
_RECEIPTS: dict[str, MessageStatus] = {"delivered": "delivered", "seen": "read", "failed": "failed"}
# Viber API status codes (non-zero = error). Only "too many requests" is worth a retry;
# the rest are bad tokens, bad data or a receiver who cannot get messages.
_RETRYABLE_STATUS = frozenset({12})
_STATUS_NAMES = {
    1: "invalid url",
    2: "invalid auth token",
    3: "bad data",
    4: "missing data",
    5: "receiver not registered",
    6: "receiver not subscribed",
    7: "public account blocked",
    8: "public account not found",
    9: "public account suspended",
    10: "webhook not set",
    11: "receiver has no suitable device",
    12: "too many requests",
    13: "api version not supported",
    14: "incompatible with version",
}


def verify_signature(headers: Mapping[str, str], body: bytes, auth_token: str) -> bool:
    value = header(headers, SIGNATURE_HEADER)
    if not value or not auth_token:
        return False
    return hmac_sha256_hex_matches(auth_token, body, value)


def parse_callback(body: bytes) -> list[ChannelEvent]:
    """One Viber callback body (always a single event) to at most one hub event."""
    callback = as_dict(load_json_object(body), "payload")
    event = callback.get("event")
    if not isinstance(event, str):
        raise PayloadError("event must be a string")
    if event in _IGNORED_EVENTS:
        return []
    raw_time = callback.get("timestamp")
    at = None if raw_time is None else epoch_millis(raw_time, "timestamp")
    if event in _RECEIPTS:
        status = _RECEIPTS[event]
        error = None
        if status == "failed":
            error = opt_str(callback.get("desc"), "desc") or "failed"
        token = as_id(callback.get("message_token"), "message_token")
        return [ProviderStatus(token, status, at, error)]
    if event == "message":
        sender = as_dict(callback.get("sender"), "sender")
        message = as_dict(callback.get("message"), "message")
        text, attachments = _content(message)
        return [
            ProviderMessage(
                provider_message_id=as_id(callback.get("message_token"), "message_token"),
                contact_external_id=as_id(sender.get("id"), "sender.id"),
                contact_name=opt_str(sender.get("name"), "sender.name"),
                text=text,
                attachments=attachments,
                sent_at=at,
            )
        ]
    return []  # event types Viber adds later


def _content(message: dict[str, Any]) -> tuple[str, tuple[Attachment, ...]]:
    kind = message.get("type")
    if not isinstance(kind, str):
        raise PayloadError("message.type must be a string")
    text = opt_str(message.get("text"), "message.text") or ""
    media = opt_str(message.get("media"), "message.media")
    if kind == "text":
        return text, ()
    if kind in ("picture", "video", "file", "sticker"):
        size = message.get("size")
        attachment = Attachment(
            url=media,
            name=opt_str(message.get("file_name"), "message.file_name"),
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        )
        if media:
            return text, (attachment,)
        return text or f"[{kind}]", ()
    if kind == "url":
        return media or text, ()
    if kind == "location":
        location = as_dict(message.get("location"), "message.location")
        lat, lon = location.get("lat"), location.get("lon")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
            raise PayloadError("message.location needs numeric lat and lon")
        assert isinstance(lat, int | float) and isinstance(lon, int | float)
        address = opt_str(location.get("address"), "message.location.address")
        return location_text(lat, lon, None, address), ()
    if kind == "contact":
        contact = as_dict(message.get("contact"), "message.contact")
        parts = [
            value
            for value in (contact.get("name"), contact.get("phone_number"))
            if isinstance(value, str) and value
        ]
        return " ".join(["👤", *parts]), ()
    return text or f"[{kind} message]", ()


def _api_failure(response: httpx.Response, what: str, error: type[ProviderError]) -> ProviderError:
    return error(
        f"{what} failed with HTTP {response.status_code}",
        retryable=retryable_status(response.status_code),
        retry_after=retry_after_seconds(response),
    )


async def _call(
    client: httpx.AsyncClient,
    endpoint: str,
    payload: dict[str, Any],
    auth_token: str,
    error: type[ProviderError],
) -> dict[str, Any]:
    what = f"Viber {endpoint}"
    try:
        response = await client.post(
            f"{API_BASE}/{endpoint}", json=payload, headers={"X-Viber-Auth-Token": auth_token}
        )
    except httpx.HTTPError as exc:
        raise transport_error(exc, what, error) from exc
    if not response.is_success:
        raise _api_failure(response, what, error)
    body = response_json(response)
    if not isinstance(body, dict):
        raise error(f"{what}: the answer is not a JSON object", retryable=False)
    status = body.get("status")
    if status != 0:
        message = body.get("status_message")
        if not isinstance(message, str):
            message = _STATUS_NAMES.get(status, "error") if isinstance(status, int) else "error"
        raise error(
            f"{what} refused with status {status}: {message}",
            retryable=status in _RETRYABLE_STATUS,
            code=str(status),
        )
    return body


async def set_webhook(
    client: httpx.AsyncClient,
    url: str,
    auth_token: str,
    event_types: Sequence[str] = DEFAULT_EVENT_TYPES,
) -> list[str]:
    """Point the bot's webhook at ``url``; returns the event types Viber will send.

    Viber calls ``url`` with a ``webhook`` event during this call and fails it unless that
    answers 200, so the route must already be live. ``url=""`` removes the webhook.
    Raises :class:`ProviderError`.
    """
    payload: dict[str, Any] = {"url": url, "event_types": list(event_types), "send_name": True}
    body = await _call(client, "set_webhook", payload, auth_token, ProviderError)
    types = body.get("event_types")
    return [t for t in types if isinstance(t, str)] if isinstance(types, list) else []


def _message_for(attachment: Attachment) -> dict[str, Any]:
    if not attachment.url:
        raise SendError("an attachment has no url to send", retryable=False)
    if (attachment.mime or "").startswith("image/"):
        return {"type": "picture", "text": "", "media": attachment.url}
    if attachment.size is None:
        raise SendError("Viber needs the size of a file attachment", retryable=False)
    name = attachment.name or attachment.url.rsplit("/", 1)[-1] or "file"
    return {"type": "file", "media": attachment.url, "size": attachment.size, "file_name": name}


@dataclass(frozen=True, slots=True)
class ViberAdapter:
    """A Viber bot: ``config = {auth_token, sender_name?}`` (the name shown to users)."""

    auth_token: str = field(repr=False)
    sender_name: str = "Inviaro"
    kind: str = "viber"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ViberAdapter:
        name = config.get("sender_name")
        return cls(
            auth_token=require_str(config, "auth_token"),
            sender_name=name[:SENDER_NAME_MAX] if isinstance(name, str) and name else "Inviaro",
        )

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signature(headers, body, self.auth_token)

    def parse(self, body: bytes) -> list[ChannelEvent]:
        return parse_callback(body)

    async def set_webhook(
        self, client: httpx.AsyncClient, url: str, event_types: Sequence[str] = DEFAULT_EVENT_TYPES
    ) -> list[str]:
        return await set_webhook(client, url, self.auth_token, event_types)

    async def send(
        self,
        client: httpx.AsyncClient,
        recipient_external_id: str,
        text: str,
        attachments: Sequence[Attachment] = (),
    ) -> SendResult:
        """Text goes as the caption of a first picture, else as its own message first;
        every other attachment is one more message (files need ``size``)."""
        require_content(text, attachments)
        messages = [_message_for(a) for a in attachments]
        if text and messages and messages[0]["type"] == "picture":
            messages[0]["text"] = text
        elif text:
            messages.insert(0, {"type": "text", "text": text})
        ids = []
        for message in messages:
            payload = {
                "receiver": recipient_external_id,
                "min_api_version": 1,
                "sender": {"name": self.sender_name},
                **message,
            }
            body = await _call(client, "send_message", payload, self.auth_token, SendError)
            try:
                ids.append(as_id(body.get("message_token"), "message_token"))
            except PayloadError:
                raise SendError(
                    "Viber send_message: no message_token in the answer", retryable=False
                ) from None
        return SendResult.of(ids)

    async def send_options(
        self,
        client: httpx.AsyncClient,
        recipient_external_id: str,
        text: str,
        options: Sequence[tuple[str, str]],
    ) -> SendResult:
        """A choice as a keyboard of reply buttons; a tap sends the option's number back
        as the contact's text, which picks it."""
        buttons = [
            {"ActionType": "reply", "ActionBody": value, "Text": clip(label, 250), "Columns": 6}
            for label, value in options
        ]
        payload = {
            "receiver": recipient_external_id,
            "min_api_version": 1,
            "sender": {"name": self.sender_name},
            "type": "text",
            "text": text,
            "keyboard": {"Type": "keyboard", "DefaultHeight": False, "Buttons": buttons},
        }
        body = await _call(client, "send_message", payload, self.auth_token, SendError)
        try:
            return SendResult(as_id(body.get("message_token"), "message_token"))
        except PayloadError:
            raise SendError(
                "Viber send_message: no message_token in the answer", retryable=False
            ) from None


register("viber")(ViberAdapter.from_config)
