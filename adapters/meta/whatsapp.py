"""WhatsApp Cloud API: webhook payloads to events, and sends (text, media, templates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.base import (
    PayloadError,
    ProviderError,
    SendError,
    SendResult,
    as_dict,
    as_id,
    as_list,
    clip,
    epoch_seconds,
    location_text,
    opt_str,
    register,
    require_content,
    require_str,
    response_json,
)
from adapters.meta.graph import (
    GRAPH_BASE,
    MEDIA_HOST_SUFFIXES,
    MEDIA_HOSTS,
    REASONS,
    app_credentials,
    graph_call,
    graph_post,
    media_kind,
)
from adapters.meta.webhook import number, reaction_text, roots, verify_challenge, verify_signature
from hub.model import Attachment, ChannelEvent, MessageStatus, ProviderMessage, ProviderStatus

_WA_MEDIA = ("image", "document", "audio", "video", "sticker")
_WA_STATUSES: dict[str, MessageStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",  # voice messages: played implies read
    "failed": "failed",
}


def parse_whatsapp(body: bytes) -> list[ChannelEvent]:
    """A ``whatsapp_business_account`` webhook body to messages and statuses."""
    events: list[ChannelEvent] = []
    for root in roots(body, "whatsapp_business_account"):
        for i, raw_entry in enumerate(as_list(root.get("entry"), "entry")):
            entry = as_dict(raw_entry, f"entry[{i}]")
            for j, raw_change in enumerate(as_list(entry.get("changes"), f"entry[{i}].changes")):
                where = f"entry[{i}].changes[{j}]"
                change = as_dict(raw_change, where)
                if change.get("field") != "messages":
                    continue  # template status, quality updates...: not messages
                value = as_dict(change.get("value"), f"{where}.value")
                events.extend(_wa_value(value, f"{where}.value"))
    return events


def _wa_value(value: dict[str, Any], where: str) -> list[ChannelEvent]:
    names: dict[str, str | None] = {}
    contact_ids: list[str] = []
    for k, raw in enumerate(as_list(value.get("contacts"), f"{where}.contacts")):
        contact = as_dict(raw, f"{where}.contacts[{k}]")
        profile = contact.get("profile")
        name = opt_str(profile.get("name"), "profile.name") if isinstance(profile, dict) else None
        keys = [contact.get("wa_id"), contact.get("user_id")]
        ids = [as_id(key, f"{where}.contacts[{k}]") for key in keys if key is not None]
        if ids:
            contact_ids.append(ids[0])
        for contact_id in ids:
            names[contact_id] = name

    events: list[ChannelEvent] = []
    for k, raw in enumerate(as_list(value.get("messages"), f"{where}.messages")):
        message_where = f"{where}.messages[{k}]"
        message = as_dict(raw, message_where)
        sender = message.get("from") or message.get("from_user_id")
        if sender is None and len(contact_ids) == 1:
            sender = contact_ids[0]
        contact_id = as_id(sender, f"{message_where}.from")
        text, attachments = _wa_content(message, message_where)
        events.append(
            ProviderMessage(
                provider_message_id=as_id(message.get("id"), f"{message_where}.id"),
                contact_external_id=contact_id,
                contact_name=names.get(contact_id),
                text=text,
                attachments=attachments,
                sent_at=_optional_time(message.get("timestamp"), f"{message_where}.timestamp"),
                option=_wa_option(message),
            )
        )
    for k, raw in enumerate(as_list(value.get("statuses"), f"{where}.statuses")):
        status = _wa_status(as_dict(raw, f"{where}.statuses[{k}]"), f"{where}.statuses[{k}]")
        if status is not None:
            events.append(status)
    return events


def _optional_time(value: Any, where: str) -> datetime | None:
    return None if value is None else epoch_seconds(value, where)


def _wa_content(message: dict[str, Any], where: str) -> tuple[str, tuple[Attachment, ...]]:
    kind = message.get("type")
    if not isinstance(kind, str):
        raise PayloadError(f"{where}.type must be a string")
    if kind == "text":
        body = as_dict(message.get("text"), f"{where}.text").get("body")
        return _str(body, f"{where}.text.body"), ()
    if kind in _WA_MEDIA:
        media = as_dict(message.get(kind), f"{where}.{kind}")
        attachment = Attachment(
            url=None,
            mime=opt_str(media.get("mime_type"), f"{where}.{kind}.mime_type"),
            name=opt_str(media.get("filename"), f"{where}.{kind}.filename"),
            provider_media_id=as_id(media.get("id"), f"{where}.{kind}.id"),
        )
        return opt_str(media.get("caption"), f"{where}.{kind}.caption") or "", (attachment,)
    if kind == "location":
        return _wa_location(as_dict(message.get("location"), f"{where}.location"), where), ()
    if kind == "interactive":
        return _wa_interactive(as_dict(message.get("interactive"), f"{where}.interactive")), ()
    if kind == "button":
        button = as_dict(message.get("button"), f"{where}.button")
        text = opt_str(button.get("text"), f"{where}.button.text")
        return text or opt_str(button.get("payload"), f"{where}.button.payload") or "", ()
    if kind == "reaction":
        reaction = as_dict(message.get("reaction"), f"{where}.reaction")
        target = as_id(reaction.get("message_id"), f"{where}.reaction.message_id")
        return reaction_text(opt_str(reaction.get("emoji"), f"{where}.reaction.emoji"), target), ()
    if kind == "contacts":
        return _wa_shared_contacts(as_list(message.get("contacts"), f"{where}.contacts")), ()
    if kind == "system":
        system = message.get("system")
        body = system.get("body") if isinstance(system, dict) else None
        return (body if isinstance(body, str) else "[system message]"), ()
    # unsupported, order, and types Meta adds later: tell the operator something arrived.
    return f"[{kind} message]", ()


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be a string")
    return value


def _wa_location(location: dict[str, Any], where: str) -> str:
    return location_text(
        number(location.get("latitude"), f"{where}.location.latitude"),
        number(location.get("longitude"), f"{where}.location.longitude"),
        opt_str(location.get("name"), f"{where}.location.name"),
        opt_str(location.get("address"), f"{where}.location.address"),
    )


def _wa_option(message: dict[str, Any]) -> str | None:
    """The id of the reply button or list row the contact tapped (our option's value)."""
    interactive = message.get("interactive") if message.get("type") == "interactive" else None
    if not isinstance(interactive, dict):
        return None
    reply = interactive.get(str(interactive.get("type")))
    option = reply.get("id") if isinstance(reply, dict) else None
    return option if isinstance(option, str) and 0 < len(option) <= 200 else None


def _wa_interactive(interactive: dict[str, Any]) -> str:
    kind = interactive.get("type")
    reply = interactive.get(kind) if isinstance(kind, str) else None
    if isinstance(reply, dict):
        for key in ("title", "body"):  # button_reply/list_reply titles, nfm_reply body
            if isinstance(reply.get(key), str):
                return str(reply[key])
    return "[interactive reply]"


def _wa_shared_contacts(contacts: list[Any]) -> str:
    lines = []
    for raw in contacts:
        if not isinstance(raw, dict):
            continue
        name = raw.get("name")
        formatted = name.get("formatted_name") if isinstance(name, dict) else None
        phones = [
            p["phone"]
            for p in raw.get("phones") or []
            if isinstance(p, dict) and isinstance(p.get("phone"), str)
        ]
        lines.append(" ".join(["👤", str(formatted or "contact"), *phones]))
    return "\n".join(lines) or "[contacts message]"


def _wa_status(status: dict[str, Any], where: str) -> ProviderStatus | None:
    raw = status.get("status")
    mapped = _WA_STATUSES.get(raw) if isinstance(raw, str) else None
    if mapped is None:
        return None  # "deleted", "warning" and future states: nothing to record
    error = code = None
    if mapped == "failed":
        errors = as_list(status.get("errors"), f"{where}.errors")
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        title = str(first.get("title") or first.get("message") or "The message failed.")
        raw_code = first.get("code")
        known = REASONS.get(raw_code) if isinstance(raw_code, int) else None
        code = None if raw_code is None else str(raw_code)
        error = known or title
    return ProviderStatus(
        provider_message_id=as_id(status.get("id"), f"{where}.id"),
        status=mapped,
        at=_optional_time(status.get("timestamp"), f"{where}.timestamp"),
        error=error,
        error_code=code,
    )


def _wa_envelope(recipient_external_id: str) -> dict[str, Any]:
    """The fields every WhatsApp message payload starts with."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient_external_id,
    }


class UntrustedMediaURL(ProviderError):
    """The media lookup named a file outside Meta's media hosts; it was not fetched."""


@dataclass(frozen=True, slots=True)
class WhatsAppAdapter:
    """A WhatsApp Cloud API number: ``config = {phone_number_id, access_token, app_secret,
    verify_token}``."""

    phone_number_id: str
    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    graph_base: str = GRAPH_BASE
    kind: str = "whatsapp"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WhatsAppAdapter:
        return cls(
            phone_number_id=require_str(config, "phone_number_id"), **app_credentials(config)
        )

    def verify_challenge(self, query: Mapping[str, str]) -> str | None:
        return verify_challenge(query, self.verify_token)

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signature(headers, body, self.app_secret)

    def parse(self, body: bytes) -> list[ChannelEvent]:
        return parse_whatsapp(body)

    async def send(
        self,
        client: httpx.AsyncClient,
        recipient_external_id: str,
        text: str,
        attachments: Sequence[Attachment] = (),
    ) -> SendResult:
        """Text alone is one message. With attachments, each is one media message and the
        text rides as the caption of the first image, video or document (audio has none,
        so then the text goes first on its own)."""
        require_content(text, attachments)
        base = _wa_envelope(recipient_external_id)
        payloads: list[dict[str, Any]] = []
        caption = text
        media: list[dict[str, Any]] = []
        for attachment in attachments:
            kind = media_kind(attachment.mime)
            if attachment.provider_media_id:
                item: dict[str, Any] = {"id": attachment.provider_media_id}
            elif attachment.url:
                item = {"link": attachment.url}
            else:
                raise SendError("an attachment has neither a url nor a media id", retryable=False)
            if kind == "document" and attachment.name:
                item["filename"] = attachment.name
            if caption and kind != "audio":
                item["caption"] = caption
                caption = ""
            media.append({**base, "type": kind, kind: item})
        if caption:
            text_body = {"body": caption, "preview_url": False}
            payloads.append({**base, "type": "text", "text": text_body})
        payloads.extend(media)

        ids = [await self._post_message(client, payload, "WhatsApp send") for payload in payloads]
        return SendResult.of(ids)

    async def send_options(
        self,
        client: httpx.AsyncClient,
        recipient_external_id: str,
        text: str,
        options: Sequence[tuple[str, str]],
    ) -> SendResult:
        """A choice as an interactive message: reply buttons for up to 3 options, else a
        list of up to 10 rows; a tap comes back with the option's value as its id."""
        body = {"text": clip(text, 1024)}
        if len(options) <= 3:
            buttons = [
                {"type": "reply", "reply": {"id": value, "title": clip(label, 20)}}
                for label, value in options
            ]
            interactive: dict[str, Any] = {
                "type": "button",
                "body": body,
                "action": {"buttons": buttons},
            }
        else:
            rows = [{"id": value, "title": clip(label, 24)} for label, value in options[:10]]
            interactive = {
                "type": "list",
                "body": body,
                "action": {"button": "Choose", "sections": [{"title": "Options", "rows": rows}]},
            }
        payload = {
            **_wa_envelope(recipient_external_id),
            "type": "interactive",
            "interactive": interactive,
        }
        return SendResult(await self._post_message(client, payload, "WhatsApp interactive send"))

    async def send_template(
        self,
        client: httpx.AsyncClient,
        recipient_external_id: str,
        name: str,
        language: str,
        parameters: Sequence[str] = (),
    ) -> SendResult:
        """An approved template message, the only kind WhatsApp accepts outside the 24-hour
        window (CHANNELS.md §2.5-2.6). ``parameters`` fill the body's ``{{1}}``, ``{{2}}``...
        in order; without any the ``components`` key is left out. Raises only
        :class:`SendError`, classified as for :meth:`send`."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if parameters:
            template["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
            ]
        payload = {**_wa_envelope(recipient_external_id), "type": "template", "template": template}
        return SendResult(await self._post_message(client, payload, "WhatsApp template send"))

    async def upload_media(
        self, client: httpx.AsyncClient, content: bytes, mime: str, name: str
    ) -> str:
        """Upload a file to this number's ``/media`` (multipart: ``messaging_product``,
        ``type``, ``file``) and return the media id a message then sends it by. Raises
        only :class:`SendError`, classified as for :meth:`send`."""
        what = "WhatsApp media upload"
        response = await graph_call(
            client,
            "POST",
            f"{self.graph_base}/{self.phone_number_id}/media",
            token=self.access_token,
            what=what,
            error=SendError,
            data={"messaging_product": "whatsapp", "type": mime},
            files={"file": (name, content, mime)},
        )
        answer = response_json(response)
        media_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(media_id, str) or not media_id:
            raise SendError(f"{what}: no id in the answer", retryable=False)
        return media_id

    async def _post_message(
        self, client: httpx.AsyncClient, payload: dict[str, Any], what: str
    ) -> str:
        """POST one message to this number's ``/messages``; the ``wamid`` Meta gave it."""
        url = f"{self.graph_base}/{self.phone_number_id}/messages"
        answer = await graph_post(client, url, payload, token=self.access_token, what=what)
        messages = answer.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        message_id = first.get("id") if isinstance(first, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise SendError(f"{what}: no messages[0].id in the answer", retryable=False)
        return message_id

    def is_media_host(self, url: str) -> bool:
        """An https URL on Meta's documented media hosts (or on the Graph origin this
        adapter was pointed at, as tests point it at a fake on loopback)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return False
        host = (parts.hostname or "").lower()
        if parts.username is not None or parts.password is not None:
            return False
        graph = urlsplit(self.graph_base)
        if (parts.scheme, parts.netloc) == (graph.scheme, graph.netloc):
            return True
        return (
            parts.scheme == "https"
            and port in (None, 443)
            and (host in MEDIA_HOSTS or host.endswith(MEDIA_HOST_SUFFIXES))
        )

    async def fetch_media(self, client: httpx.AsyncClient, media_id: str) -> tuple[bytes, str]:
        """The bytes and MIME type of an inbound media file (for the web's proxy route).

        Two calls: ``GET /{media-id}`` for a short-lived URL, then that URL with the same
        bearer token. Raises :class:`ProviderError` (retryable for 429/5xx/timeouts).
        """
        response = await graph_call(
            client,
            "GET",
            f"{self.graph_base}/{media_id}",
            token=self.access_token,
            what="WhatsApp media lookup",
            error=ProviderError,
        )
        info = response_json(response)
        media_url = info.get("url") if isinstance(info, dict) else None
        if not isinstance(media_url, str) or not self.is_media_host(media_url):
            # The download carries the channel's access token: never to anyone else.
            raise UntrustedMediaURL(
                "WhatsApp media lookup: the file's url is not on Meta's media hosts",
                retryable=False,
            )
        download = await graph_call(
            client,
            "GET",
            media_url,
            token=self.access_token,
            what="WhatsApp media download",
            error=ProviderError,
        )
        mime = info.get("mime_type")  # info is an object: it had the url
        if not isinstance(mime, str) or not mime:
            mime = download.headers.get("content-type", "application/octet-stream")
        return download.content, mime


register("whatsapp")(WhatsAppAdapter.from_config)
