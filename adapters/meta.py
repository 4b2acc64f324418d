"""Meta's channels: WhatsApp Cloud API, Messenger and Instagram messaging.

All three share the webhook mechanics: a GET handshake (:func:`verify_challenge`), and
POSTs signed with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed
with the app secret>``. One POST may batch several entries, changes and messaging items;
every one becomes an event, in document order.

Choices worth knowing:

- Reactions have no place in :mod:`hub.model` yet, so they arrive as a message whose text
  is ``[reaction 👍 to <provider message id>]`` (``[reaction removed from <id>]`` when
  withdrawn). WhatsApp gives the reaction its own ``wamid``; Messenger does not, so we key
  it ``reaction:<target mid>:<sender>:<timestamp>`` to keep redelivery idempotent.
- WhatsApp media arrive as :class:`~hub.model.Attachment` with ``provider_media_id`` and
  ``url=None``: the web layer points ``url`` at its authenticated proxy route, which calls
  :meth:`WhatsAppAdapter.fetch_media`. Messenger/Instagram media carry a (short-lived)
  public CDN URL, kept as ``url``.
- A location becomes readable text: ``📍 name, address (lat, lon)``.
- Messenger/Instagram give no profile name in webhooks, so ``contact_name`` is None there.
- Instagram's unsend (``is_deleted``), referrals, opt-ins and handovers give no event.
"""

from __future__ import annotations

import hmac
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
    epoch_millis,
    epoch_seconds,
    header,
    hmac_sha256_hex,
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
from hub.model import (
    Attachment,
    ChannelEvent,
    MessageStatus,
    ProviderMessage,
    ProviderStatus,
    ProviderWatermark,
)

GRAPH_VERSION = "v21.0"
GRAPH_BASE = f"https://graph.facebook.com/{GRAPH_VERSION}"
# Where Meta serves inbound media files (CHANNELS.md: the media lookup answers a
# lookaside.fbsbx.com URL; Messenger and Instagram attachments are on *.fbcdn.net).
MEDIA_HOSTS = frozenset({"lookaside.fbsbx.com", "graph.facebook.com"})
MEDIA_HOST_SUFFIXES = (".fbsbx.com", ".fbcdn.net")
SIGNATURE_HEADER = "X-Hub-Signature-256"


class UntrustedMediaURL(ProviderError):
    """The media lookup named a file outside Meta's media hosts; it was not fetched."""


# Meta error codes that mean "slow down / try again" even inside a 400 answer.
_RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131056})
# Token expired, revoked or session invalid: retrying cannot help; the channel needs re-auth.
_AUTH_CODES = frozenset({102, 190})


# Webhook mechanics ------------------------------------------------------------------------


def verify_challenge(query: Mapping[str, str], verify_token: str) -> str | None:
    """The GET handshake: the ``hub.challenge`` to answer with 200, or None for a 403."""
    if query.get("hub.mode") != "subscribe":
        return None
    offered = query.get("hub.verify_token")
    challenge = query.get("hub.challenge")
    if offered is None or challenge is None or not verify_token:
        return None
    if not hmac.compare_digest(offered.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    return challenge


def verify_signature(headers: Mapping[str, str], body: bytes, app_secret: str) -> bool:
    """``X-Hub-Signature-256`` over the raw body; False for a missing or malformed header."""
    value = header(headers, SIGNATURE_HEADER)
    if not value or not app_secret or not value.startswith("sha256="):
        return False
    return hmac_sha256_hex_matches(app_secret, body, value.removeprefix("sha256="))


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """``appsecret_proof``: HMAC-SHA256 of the access token keyed with the app secret."""
    return hmac_sha256_hex(app_secret, access_token.encode("utf-8"))


def _roots(body: bytes, expected_object: str) -> list[dict[str, Any]]:
    data = load_json_object(body)
    # Meta's Instagram examples print the payload inside an array; accept that too.
    items = data if isinstance(data, list) else [data]
    roots = []
    for item in items:
        root = as_dict(item, "payload")
        if root.get("object") != expected_object:
            raise PayloadError(f"expected object {expected_object!r}, got {root.get('object')!r}")
        roots.append(root)
    return roots


# WhatsApp parsing -------------------------------------------------------------------------

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
    for root in _roots(body, "whatsapp_business_account"):
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
        return _reaction_text(opt_str(reaction.get("emoji"), f"{where}.reaction.emoji"), target), ()
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


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{where} must be a number")
    return value


def _wa_location(location: dict[str, Any], where: str) -> str:
    return location_text(
        _number(location.get("latitude"), f"{where}.location.latitude"),
        _number(location.get("longitude"), f"{where}.location.longitude"),
        opt_str(location.get("name"), f"{where}.location.name"),
        opt_str(location.get("address"), f"{where}.location.address"),
    )


def _wa_interactive(interactive: dict[str, Any]) -> str:
    kind = interactive.get("type")
    reply = interactive.get(kind) if isinstance(kind, str) else None
    if isinstance(reply, dict):
        for key in ("title", "body"):  # button_reply/list_reply titles, nfm_reply body
            if isinstance(reply.get(key), str):
                return str(reply[key])
    return "[interactive reply]"


def _reaction_text(emoji: str | None, target: str) -> str:
    return f"[reaction {emoji} to {target}]" if emoji else f"[reaction removed from {target}]"


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
    error = None
    if mapped == "failed":
        errors = as_list(status.get("errors"), f"{where}.errors")
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        title = first.get("title") or first.get("message") or "failed"
        error = f"{first['code']} {title}" if first.get("code") is not None else str(title)
    return ProviderStatus(
        provider_message_id=as_id(status.get("id"), f"{where}.id"),
        status=mapped,
        at=_optional_time(status.get("timestamp"), f"{where}.timestamp"),
        error=error,
    )


# Messenger and Instagram parsing ----------------------------------------------------------


def parse_messaging(body: bytes, expected_object: str) -> list[ChannelEvent]:
    """A Messenger (``page``) or Instagram (``instagram``) webhook body to events."""
    events: list[ChannelEvent] = []
    for root in _roots(body, expected_object):
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
        return [ProviderMessage(mid, contact, None, text, attachments, at, echo)]

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
        return [ProviderMessage(key, sender, None, _reaction_text(emoji, target), (), at)]

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
                    _number(coordinates.get("lat"), f"{where}.coordinates.lat"),
                    _number(coordinates.get("long"), f"{where}.coordinates.long"),
                    title,
                    None,
                )
            )
        elif isinstance(payload.get("url"), str):
            attachments.append(Attachment(url=payload["url"]))
        elif title:
            texts.append(title)
    return tuple(attachments), "\n".join(texts)


# Sending ----------------------------------------------------------------------------------


def _failure(response: httpx.Response, what: str, error: type[ProviderError]) -> ProviderError:
    body = response_json(response)
    details = body.get("error") if isinstance(body, dict) else None
    details = details if isinstance(details, dict) else {}
    code = details.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = details.get("message") if isinstance(details.get("message"), str) else None
    retryable = retryable_status(response.status_code)
    if code is not None and code in _RETRYABLE_CODES:
        retryable = True
    if code is not None and code in _AUTH_CODES:
        retryable = False
    detail = f"{what} failed with HTTP {response.status_code}"
    if code is not None:
        detail += f", Meta error {code}"
    if message:
        detail += f": {message}"
    return error(
        detail,
        retryable=retryable,
        retry_after=retry_after_seconds(response),
        code=None if code is None else str(code),
    )


async def _graph_call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    token: str,
    what: str,
    error: type[ProviderError],
    **kwargs: Any,
) -> httpx.Response:
    """One call with the bearer token; a transport failure or non-2xx raises ``error``."""
    try:
        response = await client.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
    except httpx.HTTPError as exc:
        raise transport_error(exc, what, error) from exc
    if not response.is_success:
        raise _failure(response, what, error)
    return response


async def _graph_post(
    client: httpx.AsyncClient,
    url: str,
    payload: dict[str, Any],
    *,
    token: str,
    params: Mapping[str, str] | None = None,
    what: str,
) -> dict[str, Any]:
    response = await _graph_call(
        client, "POST", url, token=token, what=what, error=SendError, json=payload, params=params
    )
    body = response_json(response)
    if not isinstance(body, dict):
        raise SendError(f"{what}: the answer is not a JSON object", retryable=False)
    return body


def _media_kind(mime: str | None) -> str:
    major = (mime or "").split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "document"


def _wa_envelope(recipient_external_id: str) -> dict[str, Any]:
    """The fields every WhatsApp message payload starts with."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient_external_id,
    }


def _app_credentials(config: Mapping[str, Any]) -> dict[str, str]:
    """The secrets every Meta channel's config holds beside its account id."""
    return {key: require_str(config, key) for key in ("access_token", "app_secret", "verify_token")}


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
            phone_number_id=require_str(config, "phone_number_id"), **_app_credentials(config)
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
            kind = _media_kind(attachment.mime)
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

    async def _post_message(
        self, client: httpx.AsyncClient, payload: dict[str, Any], what: str
    ) -> str:
        """POST one message to this number's ``/messages``; the ``wamid`` Meta gave it."""
        url = f"{self.graph_base}/{self.phone_number_id}/messages"
        answer = await _graph_post(client, url, payload, token=self.access_token, what=what)
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
        response = await _graph_call(
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
        download = await _graph_call(
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
        return cls(account_id=require_str(config, "page_id"), **_app_credentials(config))

    @classmethod
    def instagram_from_config(cls, config: Mapping[str, Any]) -> MessengerAdapter:
        """An Instagram professional account: ``config = {account_id, access_token,
        app_secret, verify_token}``; same webhooks and Send API shape as Messenger."""
        return cls(
            account_id=require_str(config, "account_id"),
            **_app_credentials(config),
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
            kind = _media_kind(attachment.mime)
            messages.append(
                {
                    "attachment": {
                        "type": "file" if kind == "document" else kind,
                        "payload": {"url": attachment.url, "is_reusable": True},
                    }
                }
            )
        url = f"{self.graph_base}/{self.account_id}/messages"
        params = {"appsecret_proof": appsecret_proof(self.access_token, self.app_secret)}
        what = f"{self.kind.capitalize()} send"
        ids = []
        for message in messages:
            payload = {
                "recipient": {"id": recipient_external_id},
                "messaging_type": "RESPONSE",
                "message": message,
            }
            answer = await _graph_post(
                client, url, payload, token=self.access_token, params=params, what=what
            )
            message_id = answer.get("message_id")
            if not isinstance(message_id, str) or not message_id:
                raise SendError(f"{what}: no message_id in the answer", retryable=False)
            ids.append(message_id)
        return SendResult.of(ids)


register("whatsapp")(WhatsAppAdapter.from_config)
register("messenger")(MessengerAdapter.from_config)
register("instagram")(MessengerAdapter.instagram_from_config)
