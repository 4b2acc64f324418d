"""Messenger and Instagram messaging: webhook payloads to events, and the Send API."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.base import (
    SendError,
    SendResult,
    as_dict,
    as_id,
    as_list,
    clip,
    epoch_millis,
    location_text,
    opt_str,
    register,
    require_content,
    require_str,
)
from adapters.meta.graph import (
    GRAPH_BASE,
    app_credentials,
    appsecret_proof,
    graph_post,
    media_kind,
)
from adapters.meta.webhook import number, reaction_text, roots, verify_challenge, verify_signature
from hub.model import Attachment, ChannelEvent, ProviderMessage, ProviderStatus, ProviderWatermark


def parse_messaging(body: bytes, expected_object: str) -> list[ChannelEvent]:
    """A Messenger (``page``) or Instagram (``instagram``) webhook body to events."""
    events: list[ChannelEvent] = []
    for root in roots(body, expected_object):
        for i, raw_entry in enumerate(as_list(root.get("entry"), "entry")):
            entry = as_dict(raw_entry, f"entry[{i}]")
            for key in ("messaging", "standby"):
                for j, raw in enumerate(as_list(entry.get(key), f"entry[{i}].{key}")):
                    where = f"entry[{i}].{key}[{j}]"
                    events.extend(_messaging_item(as_dict(raw, where), where))
    return events


def _messaging_item(item: dict[str, Any], where: str) -> list[ChannelEvent]:
    sender = as_id(as_dict(item.get("sender"), f"{where}.sender").get("id"), f"{where}.sender.id")
    recipient_field = as_dict(item.get("recipient"), f"{where}.recipient")
    raw_time = item.get("timestamp")
    at = None if raw_time is None else epoch_millis(raw_time, f"{where}.timestamp")

    if "message" in item:
        message = as_dict(item["message"], f"{where}.message")
        if message.get("is_deleted") is True:
            return []
        echo = message.get("is_echo") is True
        contact = as_id(recipient_field.get("id"), f"{where}.recipient.id") if echo else sender
        text = opt_str(message.get("text"), f"{where}.message.text") or ""
        attachments, fallback_text = _fb_attachments(message.get("attachments"), where)
        if not text:
            text = fallback_text
        if not text and not attachments:
            if message.get("is_unsupported") is not True:
                return []
            text = "[unsupported message]"
        mid = as_id(message.get("mid"), f"{where}.message.mid")
        quick = message.get("quick_reply")
        option = quick.get("payload") if isinstance(quick, dict) else None
        if not (isinstance(option, str) and 0 < len(option) <= 200):
            option = None
        return [ProviderMessage(mid, contact, None, text, attachments, at, echo, option)]

    if "delivery" in item:
        delivery = as_dict(item["delivery"], f"{where}.delivery")
        watermark = delivery.get("watermark")
        mark = None if watermark is None else epoch_millis(watermark, f"{where}.delivery.watermark")
        events: list[ChannelEvent] = [
            ProviderStatus(as_id(mid, f"{where}.delivery.mids"), "delivered", mark or at)
            for mid in as_list(delivery.get("mids"), f"{where}.delivery.mids")
        ]
        if mark is not None:
            events.append(ProviderWatermark(sender, "delivered", mark))
        return events

    if "read" in item:
        read = as_dict(item["read"], f"{where}.read")
        events = []
        if read.get("mid") is not None:  # Instagram: per message
            events.append(ProviderStatus(as_id(read["mid"], f"{where}.read.mid"), "read", at))
        if read.get("watermark") is not None:  # Messenger: everything before it
            mark = epoch_millis(read["watermark"], f"{where}.read.watermark")
            events.append(ProviderWatermark(sender, "read", mark))
        return events

    if "reaction" in item:
        reaction = as_dict(item["reaction"], f"{where}.reaction")
        target = as_id(reaction.get("mid"), f"{where}.reaction.mid")
        emoji = opt_str(reaction.get("emoji"), f"{where}.reaction.emoji")
        if reaction.get("action") == "unreact":
            emoji = None
        key = f"reaction:{target}:{sender}:{raw_time}"
        return [ProviderMessage(key, sender, None, reaction_text(emoji, target), (), at)]

    if "postback" in item:
        postback = as_dict(item["postback"], f"{where}.postback")
        title = opt_str(postback.get("title"), f"{where}.postback.title")
        payload = postback.get("payload")
        text = title or (payload if isinstance(payload, str) else "") or "[postback]"
        raw_mid = postback.get("mid")
        mid = f"postback:{sender}:{raw_time}"
        if raw_mid:
            mid = as_id(raw_mid, f"{where}.postback.mid")
        return [ProviderMessage(mid, sender, None, text, (), at)]

    return []  # referral, optin, handover, typing...: nothing for the inbox


_KINDS = ("image", "video", "audio")


def attachment_mime(kind: Any, url: str) -> str | None:
    """An attachment's MIME type from its Messenger/Instagram ``type``: the exact type when
    the URL's file name says one of that kind (``.jpg`` → ``image/jpeg``), else the kind's
    wildcard (``image/*``), so an image can be previewed whatever its URL; None for a
    ``file`` (or an unknown type), whose kind the payload does not tell."""
    if kind not in _KINDS:
        return None
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    if guessed and guessed.startswith(f"{kind}/"):
        return guessed
    return f"{kind}/*"


def _fb_attachments(raw: Any, where: str) -> tuple[tuple[Attachment, ...], str]:
    attachments: list[Attachment] = []
    texts: list[str] = []
    for k, item in enumerate(as_list(raw, f"{where}.message.attachments")):
        attachment = as_dict(item, f"{where}.message.attachments[{k}]")
        payload = attachment.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        title = attachment.get("title") if isinstance(attachment.get("title"), str) else None
        coordinates = payload.get("coordinates")
        if attachment.get("type") == "location" and isinstance(coordinates, dict):
            texts.append(
                location_text(
                    number(coordinates.get("lat"), f"{where}.coordinates.lat"),
                    number(coordinates.get("long"), f"{where}.coordinates.long"),
                    title,
                    None,
                )
            )
        elif isinstance(payload.get("url"), str):
            mime = attachment_mime(attachment.get("type"), payload["url"])
            attachments.append(Attachment(url=payload["url"], mime=mime))
        elif title:
            texts.append(title)
    return tuple(attachments), "\n".join(texts)


@dataclass(frozen=True, slots=True)
class MessengerAdapter:
    """A Facebook Page: ``config = {page_id, access_token, app_secret, verify_token}``."""

    account_id: str
    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    graph_base: str = GRAPH_BASE
    kind: str = "messenger"
    webhook_object: str = "page"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MessengerAdapter:
        return cls(account_id=require_str(config, "page_id"), **app_credentials(config))

    @classmethod
    def instagram_from_config(cls, config: Mapping[str, Any]) -> MessengerAdapter:
        """An Instagram professional account: ``config = {account_id, access_token,
        app_secret, verify_token}``; same webhooks and Send API shape as Messenger."""
        return cls(
            account_id=require_str(config, "account_id"),
            **app_credentials(config),
            kind="instagram",
            webhook_object="instagram",
        )

    def verify_challenge(self, query: Mapping[str, str]) -> str | None:
        return verify_challenge(query, self.verify_token)

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signature(headers, body, self.app_secret)

    def parse(self, body: bytes) -> list[ChannelEvent]:
        return parse_messaging(body, self.webhook_object)

    async def send(
        self,
        client: httpx.AsyncClient,
        recipient_external_id: str,
        text: str,
        attachments: Sequence[Attachment] = (),
    ) -> SendResult:
        """The text is one message, then each attachment (by URL) is one more."""
        require_content(text, attachments)
        messages: list[dict[str, Any]] = [{"text": text}] if text else []
        for attachment in attachments:
            if not attachment.url:
                raise SendError("an attachment has no url to send", retryable=False)
            kind = media_kind(attachment.mime)
            messages.append(
                {
                    "attachment": {
                        "type": "file" if kind == "document" else kind,
                        "payload": {"url": attachment.url, "is_reusable": True},
                    }
                }
            )
        return SendResult.of([await self._post(client, recipient_external_id, m) for m in messages])

    async def send_options(
        self,
        client: httpx.AsyncClient,
        recipient_external_id: str,
        text: str,
        options: Sequence[tuple[str, str]],
    ) -> SendResult:
        """A choice as quick replies (up to 13); a tap comes back with the option's value
        as its payload."""
        replies = [
            {"content_type": "text", "title": clip(label, 20), "payload": value}
            for label, value in options[:13]
        ]
        message = {"text": clip(text, 2000), "quick_replies": replies}
        return SendResult(await self._post(client, recipient_external_id, message))

    async def _post(
        self, client: httpx.AsyncClient, recipient_external_id: str, message: dict[str, Any]
    ) -> str:
        url = f"{self.graph_base}/{self.account_id}/messages"
        params = {"appsecret_proof": appsecret_proof(self.access_token, self.app_secret)}
        what = f"{self.kind.capitalize()} send"
        payload = {
            "recipient": {"id": recipient_external_id},
            "messaging_type": "RESPONSE",
            "message": message,
        }
        answer = await graph_post(
            client, url, payload, token=self.access_token, params=params, what=what
        )
        message_id = answer.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise SendError(f"{what}: no message_id in the answer", retryable=False)
        return message_id


register("messenger")(MessengerAdapter.from_config)
register("instagram")(MessengerAdapter.instagram_from_config)
