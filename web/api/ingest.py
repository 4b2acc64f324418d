"""The ingest API for custom channel adapters: many messages per request, JSON or msgpack.

Everything in a request is validated before anything is stored; a 202 means every
accepted message is durably in the database. A 503 (with ``Retry-After``) means some were
not: the database is unavailable or the writer's queue is full; resending the request
stores nothing twice (the messages' external ids deduplicate).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import msgpack
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import Attachment, Author, Inbound
from hub.store import Gone, Unavailable
from storage import models as m
from web import limits
from web.auth.channels import check_ingest_token
from web.errors import ApiError, read_body, refuse_nul
from web.failures import RETRY_AFTER_S

MAX_BODY = 4 * 1024 * 1024
MAX_MESSAGES = 1000


def _decode(request: Request, body: bytes) -> Any:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype in ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack"):
            return msgpack.unpackb(body, raw=False, strict_map_key=True)
        if ctype in ("application/json", ""):
            return orjson.loads(body)
    except Exception:
        raise ApiError(400, "bad_body", f"The body is not valid {ctype or 'JSON'}.") from None
    raise ApiError(415, "unsupported_media_type", "Send application/json or application/msgpack.")


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
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    async with request.app.state.services.db() as session:
        channel = await check_ingest_token(session, request.path_params["channel_id"], token)
    if channel is None:
        raise ApiError(401, "unauthorized", "A valid ingest token for this channel is required.")
    return channel


async def ingest(request: Request) -> Response:
    await limits.channel_request(request, request.path_params["channel_id"])
    channel = await _channel(request)
    body = _decode(request, await read_body(request, MAX_BODY))
    refuse_nul(body)
    messages = _parse(body, channel)
    services = request.app.state.services
    if not services.store.writer.admits(len(messages)):  # the database is behind: back off
        raise Unavailable("too many messages are waiting to be stored")  # 503, Retry-After
    hub = services.hub
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
        accepted.append(
            {
                "external_id": item.provider_message_id,
                "message_id": outcome.message.id,
                "conversation_id": outcome.message.conversation_id,
                "seq": outcome.message.seq,
            }
        )
    return JSONResponse({"accepted": accepted}, status_code=202)


routes = [Route("/api/ingest/{channel_id}", ingest, methods=["POST"])]
