"""Website visitors: the widget's session endpoint and the signed visitor token.

A visitor token names one workspace, channel, contact and conversation; it is signed with
the secret key, so it opens that conversation and nothing else.

Identity verification: a site whose visitors are signed in sends ``{user_id, user_hash}``
with ``user_hash`` the hex HMAC-SHA256 of ``user_id`` keyed with the channel's
``identity_secret``. A verified visitor is the contact with the channel identity
``user:<user_id>``, on every device, with that contact's latest conversation on the channel.
A wrong hash is refused (403 ``identity_invalid``), never downgraded or merged; a channel
whose config has ``require_verification: true`` refuses sessions without a valid one (403
``verification_required``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.ids import new_id
from hub.model import utcnow
from storage import consent
from storage import models as m
from web.auth.channels import channel_secrets, find_channel_by_public_key
from web.errors import ApiError, field, read_json

log = logging.getLogger("inviaro.widget")


@dataclass(frozen=True, slots=True)
class Visitor:
    workspace_id: str
    channel_id: str
    contact_id: str
    conversation_id: str


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="inviaro.visitor")


def issue_token(secret_key: str, visitor: Visitor) -> str:
    return str(
        _serializer(secret_key).dumps(
            [visitor.workspace_id, visitor.channel_id, visitor.contact_id, visitor.conversation_id]
        )
    )


def read_token(secret_key: str, token: str) -> Visitor | None:
    """The visitor a token names, or None when it is forged or malformed."""
    try:
        values = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    if not (
        isinstance(values, list) and len(values) == 4 and all(isinstance(v, str) for v in values)
    ):
        return None
    return Visitor(*values)


def origin_allowed(
    channel: m.Channel, workspace: m.Workspace, origin: str | None, own_origin: str
) -> bool:
    """The channel's or workspace's allowed origins, and the hub's own (its preview page)."""
    if not origin:
        return False
    if origin.rstrip("/") == own_origin:
        return True
    allowed = set(channel.config.get("allowed_origins") or ()) | set(
        workspace.allowed_origins or ()
    )
    return origin.rstrip("/") in {o.rstrip("/") for o in allowed} or "*" in allowed


async def visitor_from_connection(conn: HTTPConnection, token: str) -> Visitor | None:
    """The visitor of a live token: signed, its conversation still there, its channel on,
    and (for a browser, which sends an ``Origin``) opened from an allowed site."""
    services = conn.app.state.services
    visitor = read_token(services.settings.secret_key, token)
    if visitor is None:
        return None
    async with services.db() as session:
        conv = await session.get(m.Conversation, visitor.conversation_id)
        channel = await session.get(m.Channel, visitor.channel_id)
        if conv is None or channel is None or channel.disabled:
            return None
        if conv.contact_id != visitor.contact_id:
            return None
        if channel.config.get("require_verification"):
            # A token issued before verification was required opens nothing any more.
            verified = await session.scalar(
                select(m.ContactIdentity.id).where(
                    m.ContactIdentity.channel_id == channel.id,
                    m.ContactIdentity.contact_id == visitor.contact_id,
                    m.ContactIdentity.external_id.startswith("user:"),
                )
            )
            if verified is None:
                return None
        origin = conn.headers.get("origin")
        if origin is not None:  # a server-side client or a load tester: the token decides
            workspace = await session.get(m.Workspace, visitor.workspace_id)
            own = services.settings.public_origin
            if workspace is None or not origin_allowed(channel, workspace, origin, own):
                return None
    return visitor


def _identity_secret(settings: Any, channel: m.Channel) -> str | None:
    try:
        return channel_secrets(settings, channel).get("identity_secret") or None
    except Exception:  # a changed secret key: the secret is unreadable, so nothing verifies
        log.warning("identity_secret of channel %s cannot be decrypted", channel.id)
        return None


def identity_hash(secret: str, user_id: str) -> str:
    """What the site's back end computes: hex HMAC-SHA256 of the user id with the secret."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def _verified_user(
    settings: Any, channel: m.Channel, user_id: str | None, user_hash: str | None
) -> str | None:
    """The verified user id, None when none was claimed; raises 403 on a bad claim."""
    if user_id is None and user_hash is None:
        return None
    secret = _identity_secret(settings, channel)
    if (
        not user_id
        or not user_hash
        or secret is None
        or not hmac.compare_digest(identity_hash(secret, user_id), user_hash.strip().lower())
    ):
        raise ApiError(403, "identity_invalid", "The visitor's identity could not be verified.")
    return user_id


async def _verified_visitor(session: Any, channel: m.Channel, user_id: str) -> Visitor:
    """The contact of ``user:<user_id>`` on this channel and its latest conversation."""
    external_id = f"user:{user_id}"
    for attempt in range(2):
        identity = await session.scalar(
            select(m.ContactIdentity).where(
                m.ContactIdentity.channel_id == channel.id,
                m.ContactIdentity.external_id == external_id,
            )
        )
        if identity is not None:
            conv = await session.scalar(
                select(m.Conversation)
                .where(
                    m.Conversation.channel_id == channel.id,
                    m.Conversation.contact_id == identity.contact_id,
                )
                .order_by(m.Conversation.created_at.desc(), m.Conversation.id.desc())
                .limit(1)
            )
            if conv is None:
                conv = _conversation(channel, identity.contact_id)
                session.add(conv)
                await session.flush()
            return Visitor(channel.workspace_id, channel.id, identity.contact_id, conv.id)
        try:
            async with session.begin_nested():
                return await _new_visitor(session, channel, external_id)
        except IntegrityError:
            if attempt:  # pragma: no cover - a second race on the same id
                raise
            # Another device of the same user created it just now: use theirs.
    raise AssertionError("unreachable")


def _conversation(channel: m.Channel, contact_id: str) -> m.Conversation:
    now = utcnow()
    return m.Conversation(
        id=new_id("cv_"),
        workspace_id=channel.workspace_id,
        channel_id=channel.id,
        contact_id=contact_id,
        status="open",
        tags=[],
        last_seq=0,
        read_seq=0,
        created_at=now,
        updated_at=now,
    )


async def _new_visitor(session: Any, channel: m.Channel, external_id: str | None = None) -> Visitor:
    now = utcnow()
    contact = m.Contact(
        id=new_id("ct_"),
        workspace_id=channel.workspace_id,
        name=None,
        attributes={},
        created_at=now,
        updated_at=now,
    )
    session.add(contact)
    await session.flush()
    session.add(
        m.ContactIdentity(
            workspace_id=channel.workspace_id,
            channel_id=channel.id,
            contact_id=contact.id,
            external_id=external_id or new_id("v_"),
        )
    )
    conv = _conversation(channel, contact.id)
    session.add(conv)
    await session.flush()
    return Visitor(channel.workspace_id, channel.id, contact.id, conv.id)


async def create_session(request: Request) -> Response:
    data = await read_json(request)
    key = field(data, "key", str, max_len=100)
    token = field(data, "visitor_token", str, required=False, max_len=1000)
    user_id = field(data, "user_id", str, required=False, max_len=150)
    user_hash = field(data, "user_hash", str, required=False, max_len=128)
    services = request.app.state.services
    settings = services.settings
    async with services.db() as session, session.begin():
        channel = await find_channel_by_public_key(session, key)
        if channel is None:
            raise ApiError(404, "not_found", "No active widget channel has this key.")
        workspace = await session.get(m.Workspace, channel.workspace_id)
        if workspace is None or workspace.deleted_at is not None:
            raise ApiError(404, "not_found", "No active widget channel has this key.")
        if not origin_allowed(
            channel, workspace, request.headers.get("origin"), settings.public_origin
        ):
            raise ApiError(
                403,
                "origin_not_allowed",
                "This website is not among the channel's allowed origins.",
            )
        verified = _verified_user(settings, channel, user_id, user_hash)
        if verified is None and channel.config.get("require_verification"):
            raise ApiError(
                403, "verification_required", "This chat is only open to signed-in visitors."
            )
        visitor: Visitor | None = None
        if verified is not None:
            # An anonymous token is ignored here: unverified history is never merged in.
            visitor = await _verified_visitor(session, channel, verified)
        elif token:
            visitor = read_token(settings.secret_key, token)
            if visitor is None or visitor.channel_id != channel.id:
                raise ApiError(403, "forbidden", "The visitor token is not valid here.")
            contact = await session.get(m.Contact, visitor.contact_id)
            if contact is None:
                raise ApiError(403, "forbidden", "This visitor's data was erased.")
            conv = await session.get(m.Conversation, visitor.conversation_id)
            if conv is None:
                # Retention removed the old conversation: the same visitor starts a new one.
                conv = _conversation(channel, contact.id)
                session.add(conv)
                await session.flush()
                visitor = Visitor(channel.workspace_id, channel.id, contact.id, conv.id)
        else:
            visitor = await _new_visitor(session, channel)
        question = await consent.for_visitor(
            await session.connection(), visitor.workspace_id, visitor.contact_id
        )
    token = issue_token(settings.secret_key, visitor)
    return JSONResponse(
        {
            "visitor_token": token,
            "conversation_id": visitor.conversation_id,
            "ws_url": f"{settings.ws_base}/ws/widget?token={token}",
            "title": channel.config.get("title"),
            "color": channel.config.get("color"),
            "consent": question,  # storage.consent: the widget asks before chatting
        },
        status_code=201,
    )


routes = [Route("/api/widget/sessions", create_session, methods=["POST"])]
