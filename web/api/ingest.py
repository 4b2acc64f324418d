"""The ingest API for custom channel adapters: many messages per request, JSON or msgpack.

Everything in a request is validated before anything is stored; a 202 means every
accepted message is durably in the database. A 503 (with ``Retry-After``) means some were
not: the database is unavailable or the writer's queue is full; resending the request
stores nothing twice (the messages' external ids deduplicate).

The body is :class:`web.contracts.ingest.IngestRequest`, the declared one. A well-formed
body is decoded straight into it by msgspec (one pass over the bytes, no intermediate
dicts); anything msgspec refuses is
decoded again the slow way and explained by :func:`_parse`, which names the first field
that is wrong (``messages[3].contact.external_id must be …``), so the 422 details are the
ones this API has always given. Most requests are one message (a webhook forwarded by an
adapter), so the per-request cost is what counts, not the per-message one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import msgpack
import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.model import Attachment, Author, Inbound
from hub.store import Gone, Unavailable, WriteResult
from storage import models as m
from web import limits
from web.auth.channels import token_matches
from web.channel_cache import ChannelCache
from web.contracts import ingest as ingest_contract
from web.contracts.ingest import MAX_MESSAGES, IngestAccepted, IngestRequest, IngestResponse
from web.errors import ApiError, read_body, refuse_nul
from web.failures import RETRY_AFTER_S
from web.operation import declare

MAX_BODY = 4 * 1024 * 1024
MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")


_JSON_REQUEST = msgspec.json.Decoder(IngestRequest)
_MSGPACK_REQUEST = msgspec.msgpack.Decoder(IngestRequest)
_RESPONSE = msgspec.json.Encoder()


def _media_type(request: Request) -> str:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in MSGPACK_TYPES:
        return "msgpack"
    if ctype in ("application/json", ""):
        return "json"
    raise ApiError(415, "unsupported_media_type", "Send application/json or application/msgpack.")


def _decode(kind: str, body: bytes) -> Any:
    try:
        if kind == "msgpack":
            return msgpack.unpackb(body, raw=False, strict_map_key=True)
        return orjson.loads(body)
    except Exception:
        what = "application/msgpack" if kind == "msgpack" else "JSON"
        raise ApiError(400, "bad_body", f"The body is not valid {what}.") from None


def _fast(kind: str, body: bytes, channel: m.Channel) -> list[Inbound] | None:
    """The messages of a well-formed body, or None: then :func:`_parse` explains it.

    A body that may hold a NUL (in JSON it can only be written escaped; in msgpack any
    zero byte may be one) takes the slow path too, where every string is checked."""
    if (b"\\u0000" if kind == "json" else b"\x00") in body:
        return None
    try:
        request = (_JSON_REQUEST if kind == "json" else _MSGPACK_REQUEST).decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None  # RecursionError: nested deeper than msgspec goes (orjson says 400)
    out = []
    for item in request.messages:
        message_id = _clean_id(item.external_id)
        contact_id = _clean_id(item.contact.external_id)
        name = item.contact.name.strip() if item.contact.name is not None else None
        if message_id is None or contact_id is None or name == "":
            return None
        attachments = tuple(
            Attachment(url=a.url[:2000], mime=_opt(a.mime), name=_opt(a.name), size=a.size)
            for a in item.attachments
        )
        if not attachments and not item.text.strip():
            return None
        sent_at = None
        if item.sent_at is not None:
            try:
                sent_at = datetime.fromisoformat(item.sent_at.replace("Z", "+00:00"))
            except ValueError:
                return None
        out.append(
            Inbound(
                workspace_id=channel.workspace_id,
                channel_id=channel.id,
                direction="in",
                author=Author("contact", None, name),
                text=item.text,
                attachments=attachments,
                contact_external_id=contact_id,
                contact_name=name,
                provider_message_id=message_id,
                sent_at=sent_at,
            )
        )
    return out


def _clean_id(value: str | int) -> str | None:
    text = str(value).strip()
    return text if text else None


def _str(
    item: dict[str, Any], name: str, where: str, *, required: bool = True, max_len: int = 200
) -> str | None:
    value = item.get(name)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # provider ids are often numbers; ids are strings here
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise ApiError(
            422,
            "invalid",
            f"{where}.{name} must be a non-empty string of at most {max_len} characters.",
        )
    return value.strip()


def _attachments(item: dict[str, Any], where: str) -> tuple[Attachment, ...]:
    raw = item.get("attachments") or []
    if not isinstance(raw, list) or len(raw) > 20:
        raise ApiError(422, "invalid", f"{where}.attachments must be a list of at most 20.")
    out = []
    for n, a in enumerate(raw):
        if not isinstance(a, dict) or not isinstance(a.get("url"), str):
            raise ApiError(422, "invalid", f"{where}.attachments[{n}] needs a url string.")
        size = a.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise ApiError(422, "invalid", f"{where}.attachments[{n}].size must be bytes.")
        out.append(
            Attachment(
                url=a["url"][:2000], mime=_opt(a.get("mime")), name=_opt(a.get("name")), size=size
            )
        )
    return tuple(out)


def _opt(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _parse(data: Any, channel: m.Channel) -> list[Inbound]:
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ApiError(422, "invalid", "The body must be an object with a 'messages' list.")
    messages = data["messages"]
    if not 1 <= len(messages) <= MAX_MESSAGES:
        raise ApiError(422, "invalid", f"Send from 1 to {MAX_MESSAGES} messages per request.")
    inbound = []
    for n, item in enumerate(messages):
        where = f"messages[{n}]"
        if not isinstance(item, dict):
            raise ApiError(422, "invalid", f"{where} must be an object.")
        contact = item.get("contact")
        if not isinstance(contact, dict):
            raise ApiError(422, "invalid", f"{where}.contact must be an object.")
        text = item.get("text", "")
        if not isinstance(text, str) or len(text) > 10_000:
            raise ApiError(422, "invalid", f"{where}.text must be a string of at most 10000.")
        attachments = _attachments(item, where)
        if not text.strip() and not attachments:
            raise ApiError(422, "invalid", f"{where} needs text or attachments.")
        sent_at = item.get("sent_at")
        if sent_at is not None:
            try:
                sent_at = datetime.fromisoformat(str(sent_at).replace("Z", "+00:00"))
            except ValueError:
                raise ApiError(422, "invalid", f"{where}.sent_at must be RFC 3339.") from None
        name = _str(contact, "name", f"{where}.contact", required=False)
        inbound.append(
            Inbound(
                workspace_id=channel.workspace_id,
                channel_id=channel.id,
                direction="in",
                author=Author("contact", None, name),
                text=text,
                attachments=attachments,
                contact_external_id=_str(contact, "external_id", f"{where}.contact"),
                contact_name=name,
                provider_message_id=_str(item, "external_id", where),
                sent_at=sent_at,
            )
        )
    return inbound


async def _channel(request: Request) -> m.Channel:
    """The live custom channel whose ingest token the request carries (401 otherwise).
    From the channel cache: a deleted channel or workspace is refused within a second
    anywhere, at once on the process that deleted it (web.channel_cache)."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    cache: ChannelCache = request.app.state.services.channels
    channel = await cache.get(request.path_params["channel_id"], ("custom",))
    if channel is None or not token_matches(channel, token):
        raise ApiError(401, "unauthorized", "A valid ingest token for this channel is required.")
    return channel


async def _settled(accepting: Awaitable[WriteResult]) -> WriteResult | BaseException:
    """What ``asyncio.gather(..., return_exceptions=True)`` gives for one awaitable."""
    try:
        return await accepting
    except Exception as exc:
        return exc


@declare(ingest_contract.INGEST_MESSAGES)
async def ingest(request: Request) -> Response:
    await limits.channel_request(request, request.path_params["channel_id"])
    channel = await _channel(request)
    body = await read_body(request, MAX_BODY)
    kind = _media_type(request)
    messages = _fast(kind, body, channel)
    if messages is None:  # something is wrong, or a NUL may hide in it: say what
        data = _decode(kind, body)
        refuse_nul(data)
        messages = _parse(data, channel)
    services = request.app.state.services
    if not services.store.writer.admits(len(messages)):  # the database is behind: back off
        raise Unavailable("too many messages are waiting to be stored")  # 503, Retry-After
    hub = services.hub
    if len(messages) == 1:  # most requests (a forwarded webhook): no task, no gather
        outcomes: list[WriteResult | BaseException] = [await _settled(hub.accept(messages[0]))]
    else:
        outcomes = await asyncio.gather(*(hub.accept(i) for i in messages), return_exceptions=True)
    accepted = []
    for item, outcome in zip(messages, outcomes, strict=True):
        if isinstance(outcome, Gone):
            continue  # an erased message redelivered: acknowledged, not stored again
        if isinstance(outcome, Unavailable):
            raise outcome  # web.failures: 503 with Retry-After, logged once per outage
        if isinstance(outcome, BaseException):
            raise ApiError(
                503,
                "unavailable",
                "The messages could not be stored; retry.",
                {"Retry-After": str(RETRY_AFTER_S)},
            )
        msg = outcome.message
        assert item.provider_message_id is not None  # every ingested message has one
        accepted.append(
            IngestAccepted(item.provider_message_id, msg.id, msg.conversation_id, msg.seq)
        )
    return Response(_RESPONSE.encode(IngestResponse(accepted)), 202, media_type="application/json")


routes = [Route("/api/ingest/{channel_id}", ingest, methods=["POST"])]
