"""Conversations and their messages, for operators (session cookie or API token)."""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta
from typing import Any

import orjson
from msgspec import UNSET
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import Author, Inbound, as_utc, utcnow
from hub.store import NotFound
from storage import flow_runs, outbox, search
from storage import models as m
from storage.serialize import conversation_to_wire, message_from_row
from web import csat
from web.auth.context import Principal, require
from web.contracts import conversations as conversations_contract
from web.contracts import flows as flows_contract
from web.errors import ApiError
from web.operation import declare
from web.processing import check_operator_message
from web.schema import parse_body
from web.window import check_reply_window

log = logging.getLogger("inviaro.conversations")

MAX_SNOOZE = timedelta(days=366)
MAX_QUERY = 200  # a longer search is cut, not refused: any text is a search
_NO_SUCH_CONVERSATION = "There is no such conversation in your workspace."


def _encode_cursor(updated_at: datetime, conv_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([updated_at.isoformat(), conv_id])).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor holds; a forged one (a NUL in its id, a time the database
    cannot hold) is a 422 like any other, never a failed query."""
    try:
        stamp, conv_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        when = datetime.fromisoformat(stamp)
        as_utc(when)  # raises when UTC cannot hold it (year 10000)
        if isinstance(conv_id, str) and "\x00" not in conv_id:
            return when, conv_id
    except Exception:
        pass
    raise ApiError(422, "invalid", "The cursor is not one this API gave out.")


async def wire_conversations(session: Any, convs: list[m.Conversation]) -> list[dict[str, Any]]:
    """Conversations in their wire form, with channel, contact and last message in 3 queries."""
    if not convs:
        return []
    channels = {
        c.id: c
        for c in await session.scalars(
            select(m.Channel).where(m.Channel.id.in_({c.channel_id for c in convs}))
        )
    }
    contacts = {
        c.id: c
        for c in await session.scalars(
            select(m.Contact).where(m.Contact.id.in_({c.contact_id for c in convs}))
        )
    }
    last_keys = [(c.id, c.last_seq) for c in convs if c.last_seq]
    last: dict[str, m.Message] = {}
    if last_keys:
        rows = await session.scalars(
            select(m.Message).where(
                or_(
                    *(
                        and_(m.Message.conversation_id == cid, m.Message.seq == seq)
                        for cid, seq in last_keys
                    )
                )
            )
        )
        last = {r.conversation_id: r for r in rows}
    return [
        conversation_to_wire(c, channels[c.channel_id], contacts[c.contact_id], last.get(c.id))
        for c in convs
    ]


async def _conversation(
    session: AsyncSession, principal: Principal, conv_id: str
) -> m.Conversation:
    conv = await session.get(m.Conversation, conv_id)
    if conv is None or conv.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", _NO_SUCH_CONVERSATION)
    return conv


async def _send(
    request: Request,
    principal: Principal,
    conv: m.Conversation,
    text: str,
    client_id: str | None,
    payload: dict[str, Any] | None = None,
    private: bool = False,
    media_ids: tuple[str, ...] = (),
) -> Response:
    """Hand the operator's message to the hub: 201 when stored now, 200 when ``client_id``
    names one already stored."""
    hub = request.app.state.services.hub
    try:
        attachments = (
            await hub.resolve_attachments(principal.workspace_id, conv.id, media_ids, private)
            if media_ids
            else ()
        )
    except LookupError:
        raise ApiError(
            422, "invalid", "attachments must name files uploaded into this conversation."
        ) from None
    try:
        result = await request.app.state.services.hub.accept(
            Inbound(
                workspace_id=principal.workspace_id,
                channel_id=conv.channel_id,
                direction="out",
                author=Author("operator", principal.operator_id, principal.name),
                text=text,
                attachments=attachments,
                conversation_id=conv.id,
                client_id=client_id,
                payload=payload,
                private=private,
            )
        )
    except NotFound:
        raise ApiError(404, "not_found", _NO_SUCH_CONVERSATION) from None
    return JSONResponse(result.message.to_wire(), status_code=201 if result.created else 200)


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(["q", offset])).decode()


def _decode_offset(cursor: str) -> int:
    """A search page's position (searches are ranked, so they page by offset)."""
    try:
        tag, offset = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if tag == "q" and isinstance(offset, int) and 0 <= offset <= 100_000:
            return offset
    except Exception:
        pass
    raise ApiError(422, "invalid", "The cursor is not one this API gave out.")


def _filtered(query: Any, principal: Principal, q: dict[str, Any]) -> Any:
    """The list's filters, each optional, all combinable: status, assignee, channel, tag."""
    status = q.get("status")
    if status:
        query = query.where(m.Conversation.status == status)
    assignee = q.get("assignee")
    if assignee:
        if assignee == "me":
            assignee = principal.operator_id
        query = query.where(
            m.Conversation.assignee_id.is_(None)
            if assignee == "none"
            else m.Conversation.assignee_id == assignee
        )
    team = q.get("team")
    if team:
        query = query.where(
            m.Conversation.team_id.is_(None) if team == "none" else m.Conversation.team_id == team
        )
    channel = q.get("channel")
    if channel:
        query = query.where(m.Conversation.channel_id == channel)
    tag = q.get("tag")
    if tag:
        query = query.where(search.has_tag(tag))
    return query


async def _search(request: Request, principal: Principal, text: str, q: dict[str, Any]) -> Response:
    """``q``: ranked matches in messages, the contact's name, email or phone, and tags."""
    limit: int = q["limit"]
    offset = _decode_offset(q["cursor"]) if "cursor" in q else 0
    services = request.app.state.services
    ranked = search.ranked_conversations(services.engine.dialect.name, principal.workspace_id, text)
    if ranked is None:
        return JSONResponse({"items": [], "next_cursor": None})
    query = _filtered(ranked, principal, q).offset(offset).limit(limit + 1)
    async with services.db() as session:
        convs = [row[0] for row in await session.execute(query)]
        more = len(convs) > limit
        convs = convs[:limit]
        items = await wire_conversations(session, convs)
    return JSONResponse(
        {"items": items, "next_cursor": _encode_offset(offset + limit) if more else None}
    )


@declare(conversations_contract.LIST_CONVERSATIONS)
async def list_conversations(request: Request) -> Response:
    """The workspace's conversations, newest activity first, filtered; with ``q``, the
    ones that match it, best match first."""
    principal = await require(request)
    q = conversations_contract.LIST_CONVERSATIONS.query(request)
    limit: int = q["limit"]
    text = q.get("q", "").strip()[:MAX_QUERY]
    if text:
        return await _search(request, principal, text, q)
    base = select(m.Conversation).where(m.Conversation.workspace_id == principal.workspace_id)
    query = _filtered(base, principal, q)
    if "cursor" in q:
        stamp, conv_id = _decode_cursor(q["cursor"])
        query = query.where(
            or_(
                m.Conversation.updated_at < stamp,
                and_(m.Conversation.updated_at == stamp, m.Conversation.id < conv_id),
            )
        )
    query = query.order_by(m.Conversation.updated_at.desc(), m.Conversation.id.desc())
    services = request.app.state.services
    async with services.db() as session:
        convs = list(await session.scalars(query.limit(limit + 1)))
        more = len(convs) > limit
        convs = convs[:limit]
        items = await wire_conversations(session, convs)
    next_cursor = _encode_cursor(convs[-1].updated_at, convs[-1].id) if more else None
    return JSONResponse({"items": items, "next_cursor": next_cursor})


@declare(conversations_contract.GET_CONVERSATION)
async def get_conversation(request: Request) -> Response:
    principal = await require(request)
    async with request.app.state.services.db() as session:
        conv = await _conversation(session, principal, request.path_params["id"])
        return JSONResponse((await wire_conversations(session, [conv]))[0])


def _snooze_time(value: Any) -> datetime | None:
    """``snoozed_until``: a future RFC 3339 time within a year, or null (no snooze)."""
    if value is None:
        return None
    try:
        when = as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise ApiError(422, "invalid", "snoozed_until must be an RFC 3339 time.") from None
    now = utcnow()
    if not now < when <= now + MAX_SNOOZE:
        raise ApiError(422, "invalid", "snoozed_until must be in the future, within a year.")
    return when


@declare(conversations_contract.PATCH_CONVERSATION)
async def patch_conversation(request: Request) -> Response:
    """Status, assignee, tags; ``snoozed_until`` makes it ``pending`` until then (the worker
    reopens it), null ends a snooze, and a new status ends it too."""
    principal = await require(request)
    patch = await conversations_contract.PATCH_CONVERSATION.parse(
        request, conversations_contract.PatchConversationBody
    )
    services = request.app.state.services
    async with services.db() as session, session.begin():
        conv = await _conversation(session, principal, request.path_params["id"])
        was = conv.status
        if patch.status is not UNSET:
            conv.status = patch.status
            conv.snoozed_until = None
        if patch.snoozed_until is not UNSET:
            conv.snoozed_until = _snooze_time(patch.snoozed_until)
            if conv.snoozed_until is not None:
                conv.status = "pending"
        if patch.assignee_id is not UNSET:
            assignee = patch.assignee_id
            if assignee is not None:
                op = await session.get(m.Operator, assignee)
                if op is None or op.workspace_id != principal.workspace_id:
                    raise ApiError(422, "invalid", "assignee_id is not an operator of yours.")
            conv.assignee_id = assignee
            if assignee is not None:  # an operator takes it over: the bot steps back
                await flow_runs.stop_runs(session, conv.id, "an operator took the conversation")
        if patch.team_id is not UNSET:
            team_id = patch.team_id
            if team_id is not None:
                team = await session.get(m.Team, team_id)
                if team is None or team.workspace_id != principal.workspace_id:
                    raise ApiError(422, "invalid", "team_id is not a team of yours.")
            conv.team_id = team_id
        if patch.tags is not UNSET:
            conv.tags = sorted({t.strip() for t in patch.tags})
        conv.updated_at = datetime.now(conv.created_at.tzinfo)
        await session.flush()
        wire = (await wire_conversations(session, [conv]))[0]
        resolved_now = conv.status == "resolved" and was != "resolved"
    await services.hub.publish_conversation(principal.workspace_id, wire)
    if resolved_now:
        try:
            await csat.survey(services, wire["id"])
        except Exception:  # the resolve stands; a survey that cannot go out is no error
            log.exception("the satisfaction survey of %s was not sent", wire["id"])
    return JSONResponse(wire)


@declare(flows_contract.LIST_FLOW_RUNS)
async def list_flow_runs(request: Request) -> Response:
    """What flows did in this conversation: each run with its steps, newest run first."""
    principal = await require(request)
    async with request.app.state.services.db() as session:
        conv = await _conversation(session, principal, request.path_params["id"])
        items = await flow_runs.runs_of(session, conv.id)
    return JSONResponse({"items": items})


@declare(conversations_contract.LIST_MESSAGES)
async def list_messages(request: Request) -> Response:
    principal = await require(request)
    q = conversations_contract.LIST_MESSAGES.query(request)
    limit: int = q["limit"]
    after: int | None = q.get("after_seq")
    before: int | None = q.get("before_seq")
    async with request.app.state.services.db() as session:
        conv = await _conversation(session, principal, request.path_params["id"])
        query = select(m.Message).where(m.Message.conversation_id == conv.id)
        if after is not None:
            query = query.where(m.Message.seq > after)
        if before is not None:
            # The newest ``limit`` before it, returned ascending.
            query = query.where(m.Message.seq < before).order_by(m.Message.seq.desc())
            rows = list(await session.scalars(query.limit(limit)))[::-1]
        else:
            rows = list(await session.scalars(query.order_by(m.Message.seq).limit(limit)))
    return JSONResponse({"items": [message_from_row(r).to_wire() for r in rows]})


@declare(conversations_contract.POST_MESSAGE)
async def post_message(request: Request) -> Response:
    """A reply through the conversation's channel, or a private note (operators only: no
    channel, no visitor; the reply window does not apply to it)."""
    principal = await require(request)
    body = await parse_body(request, conversations_contract.NewMessage)
    if not body.text.strip() and not body.attachments:
        raise ApiError(422, "invalid", "A message needs text or attachments.")
    async with request.app.state.services.db() as session:
        conv = await _conversation(session, principal, request.path_params["id"])
        if not body.private:
            await check_operator_message(
                session, conv, {"confirm_objection": body.confirm_objection}
            )
            await check_reply_window(session, conv)
    return await _send(
        request,
        principal,
        conv,
        body.text,
        body.client_id,
        private=body.private,
        media_ids=tuple(body.attachments),
    )


@declare(conversations_contract.RETRY_MESSAGE)
async def retry_message(request: Request) -> Response:
    """Send a ``failed`` reply again: 202 with the message, ``queued`` for the worker."""
    principal = await require(request)
    services = request.app.state.services
    async with services.db() as session:
        conv = await _conversation(session, principal, request.path_params["id"])
        msg = await session.get(m.Message, request.path_params["message_id"])
        if msg is None or msg.conversation_id != conv.id:
            raise ApiError(404, "not_found", "There is no such message in this conversation.")
        await check_reply_window(session, conv)
    try:
        receipt = await outbox.requeue(
            services.engine, principal.workspace_id, conv.id, request.path_params["message_id"]
        )
    except outbox.NotRetryable:
        raise ApiError(
            409, "not_retryable", "Only a failed reply to a channel can be sent again."
        ) from None
    await services.hub.publish_receipts([receipt])
    async with services.db() as session:
        row = await session.get(m.Message, receipt.message_id)
        assert row is not None
        wire = message_from_row(row).to_wire()
    return JSONResponse(wire, status_code=202)


def template_text(name: str, language: str, parameters: list[str]) -> str:
    """How a template send reads in the thread: ``[template name (en_US): Anna, 10:00]``."""
    suffix = f": {', '.join(parameters)}" if parameters else ""
    return f"[template {name} ({language}){suffix}]"


@declare(conversations_contract.POST_TEMPLATE)
async def post_template(request: Request) -> Response:
    """An approved WhatsApp template message: allowed outside the 24-hour window."""
    principal = await require(request)
    body = await conversations_contract.POST_TEMPLATE.parse(
        request, conversations_contract.PostTemplateBody
    )
    name, language, parameters, client_id = (
        body.name,
        body.language,
        body.parameters,
        body.client_id,
    )
    async with request.app.state.services.db() as session:
        conv = await _conversation(session, principal, request.path_params["id"])
        channel = await session.get(m.Channel, conv.channel_id)
        if channel is None or channel.kind != "whatsapp":
            raise ApiError(
                422, "invalid", "Template messages can only be sent on WhatsApp conversations."
            )
        await check_operator_message(session, conv, {"confirm_objection": body.confirm_objection})
    template = {"name": name, "language": language, "parameters": parameters}
    return await _send(
        request,
        principal,
        conv,
        template_text(name, language, parameters),
        client_id,
        payload={"template": template},
    )


@declare(conversations_contract.MARK_READ)
async def mark_read(request: Request) -> Response:
    """The operator has read the thread up to ``seq`` (drives unread counts)."""
    principal = await require(request)
    body = await conversations_contract.MARK_READ.parse(
        request, conversations_contract.MarkReadBody
    )
    seq = body.seq
    async with request.app.state.services.db() as session, session.begin():
        conv = await _conversation(session, principal, request.path_params["id"])
        conv.read_seq = max(conv.read_seq, min(seq, conv.last_seq))
    return Response(status_code=204)


routes = [
    Route("/api/conversations", list_conversations, methods=["GET"]),
    Route("/api/conversations/{id}", get_conversation, methods=["GET"]),
    Route("/api/conversations/{id}", patch_conversation, methods=["PATCH"]),
    Route("/api/conversations/{id}/messages", list_messages, methods=["GET"]),
    Route("/api/conversations/{id}/messages", post_message, methods=["POST"]),
    Route("/api/conversations/{id}/messages/{message_id}/retry", retry_message, methods=["POST"]),
    Route("/api/conversations/{id}/template", post_template, methods=["POST"]),
    Route("/api/conversations/{id}/read", mark_read, methods=["POST"]),
    Route("/api/conversations/{id}/flow-runs", list_flow_runs, methods=["GET"]),
]
