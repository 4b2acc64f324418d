"""Website visitors: the widget's session endpoint, the visitor token and the connect ticket.

A visitor token names one workspace, channel, contact and conversation and when it was
issued; it is signed with the secret key, so it resumes that conversation and nothing else,
for ``visitor_token_days`` after it was issued (every session issues a fresh one, so a
visitor who comes back within that time keeps their conversation; after it, a session with
that token starts afresh: a new visitor, a new conversation).

A session stores nothing: its ids are reserved, carried by the signed token (with the
channel identity the contact will get), and the visitor's first message creates contact,
identity and conversation in the transaction that stores it (:mod:`storage.reserved`).
Until then the conversation is not listed, counted or found (404), and three page views
cost three signed tokens, not three contacts. A reserved contact id that was erased is
refused (the erasure ledger), so an erased visitor never comes back under it.

The socket is opened with a connect ticket, not the visitor token: ``ws_url`` carries a
ticket bound to the same visitor, signed for that purpose alone and valid for
``widget_ticket_s`` seconds, so the long-lived token never travels in a URL (logs, proxies)
and a ticket seen there is worthless a minute later. A client asks for a new session (and
ticket) before each reconnect.

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
import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.ids import new_id
from hub.model import Reservation
from storage import consent, ledger
from storage import models as m
from web import limits
from web.auth.channels import channel_secrets, find_channel_by_public_key
from web.contracts import widget as widget_contract
from web.errors import ApiError
from web.operation import declare

log = logging.getLogger("inviaro.widget")

# A verified user erased more often than this gets fresh ids per session until they write.
ERASED_AGAIN_LIMIT = 8


@dataclass(frozen=True, slots=True)
class Visitor:
    workspace_id: str
    channel_id: str
    contact_id: str
    conversation_id: str
    # The channel identity a not-yet-stored visitor's contact gets with their first
    # message (``v_…`` for an anonymous visitor, ``user:<id>`` for a verified one); None
    # in tokens from before visitors were stored lazily.
    external_id: str | None = None


Purpose = Literal["visitor", "ticket"]


def _serializer(secret_key: str, purpose: Purpose) -> URLSafeSerializer:
    # One salt per purpose: a visitor token is no ticket, and a ticket no visitor token.
    return URLSafeSerializer(secret_key, salt=f"inviaro.{purpose}")


def _issue(secret_key: str, purpose: Purpose, visitor: Visitor, issued_at: int | None) -> str:
    stamp = int(time.time()) if issued_at is None else issued_at
    values: list[Any] = [
        visitor.workspace_id,
        visitor.channel_id,
        visitor.contact_id,
        visitor.conversation_id,
        stamp,
    ]
    if visitor.external_id is not None:
        values.append(visitor.external_id)
    return str(_serializer(secret_key, purpose).dumps(values))


def _read(secret_key: str, purpose: Purpose, token: str) -> tuple[Visitor, int] | None:
    """The visitor a token names and when it was issued (0 for a token from before tokens
    carried the time), or None when it is forged or malformed."""
    try:
        values = _serializer(secret_key, purpose).loads(token)
    except BadSignature:
        return None
    if not isinstance(values, list) or len(values) not in (4, 5, 6):
        return None
    ids, stamp = values[:4], values[4] if len(values) >= 5 else 0
    external = values[5] if len(values) == 6 else None
    if not all(isinstance(v, str) for v in ids) or type(stamp) is not int:
        return None
    if external is not None and not isinstance(external, str):
        return None
    return Visitor(ids[0], ids[1], ids[2], ids[3], external), stamp


def issue_token(secret_key: str, visitor: Visitor, *, issued_at: int | None = None) -> str:
    """A visitor token, issued now (or at ``issued_at``, seconds since the epoch)."""
    return _issue(secret_key, "visitor", visitor, issued_at)


def read_token(secret_key: str, token: str) -> tuple[Visitor, int] | None:
    """The visitor a token names and when it was issued, or None when it is forged."""
    return _read(secret_key, "visitor", token)


def issue_ticket(secret_key: str, visitor: Visitor, *, issued_at: int | None = None) -> str:
    """A connect ticket for ``visitor``'s socket, issued now (or at ``issued_at``)."""
    return _issue(secret_key, "ticket", visitor, issued_at)


def read_ticket(secret_key: str, ticket: str, max_age_s: int) -> Visitor | None:
    """The visitor of a ticket issued at most ``max_age_s`` ago, else None."""
    found = _read(secret_key, "ticket", ticket)
    if found is None or not 0 <= time.time() - found[1] <= max_age_s:
        return None
    return found[0]


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


async def visitor_from_connection(
    conn: HTTPConnection, ticket: str
) -> tuple[Visitor, Reservation | None] | None:
    """The visitor of a live connect ticket: signed, fresh, its conversation still there
    (or still only reserved: the visitor has not written, and was not erased), its channel
    on, its workspace not deleted, and (for a browser, which sends an ``Origin``) opened
    from an allowed site. With it, the reservation its first message must open, if any."""
    services = conn.app.state.services
    settings = services.settings
    visitor = read_ticket(settings.secret_key, ticket, settings.widget_ticket_s)
    if visitor is None:
        return None
    reservation: Reservation | None = None
    async with services.db() as session:
        conv = await session.get(m.Conversation, visitor.conversation_id)
        channel = await session.get(m.Channel, visitor.channel_id)
        workspace = await session.get(m.Workspace, visitor.workspace_id)
        if channel is None or channel.disabled:
            return None
        if workspace is None or workspace.deleted_at is not None:
            return None
        if conv is None:
            reservation = await _reservation(await session.connection(), visitor)
            if reservation is None:
                return None
        elif conv.contact_id != visitor.contact_id:
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
            if verified is None and not (
                reservation is not None and reservation.external_id.startswith("user:")
            ):
                return None
        origin = conn.headers.get("origin")
        if origin is not None:  # a server-side client or a load tester: the ticket decides
            if not origin_allowed(channel, workspace, origin, settings.public_origin):
                return None
    return visitor, reservation


async def _reservation(conn: Any, visitor: Visitor) -> Reservation | None:
    """What the first message of a visitor whose conversation is not stored must create,
    or None when the contact was erased (it never comes back)."""
    if await ledger.erased(conn, visitor.workspace_id, [visitor.contact_id]):
        return None
    external_id = visitor.external_id or new_id("v_")
    return Reservation(visitor.contact_id, external_id)


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


def _derived_ids(secret_key: str, channel_id: str, user_id: str, n: int) -> tuple[str, str]:
    """The contact and conversation ids reserved for a verified user who has written to this
    channel never (or not since being erased, ``n`` times): the same on every device, so
    the user's devices share one conversation before anything is stored."""
    digest = hmac.new(
        secret_key.encode(), f"reserved\x00{channel_id}\x00{user_id}\x00{n}".encode(), "sha512"
    ).digest()
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    def chars(part: bytes) -> str:
        value = int.from_bytes(part, "big")
        return "".join(alphabet[(value >> (5 * i)) & 31] for i in range(26))

    return "ct_" + chars(digest[:17]), "cv_" + chars(digest[17:34])


async def _verified_visitor(
    session: Any, settings: Any, channel: m.Channel, user_id: str
) -> Visitor:
    """The contact of ``user:<user_id>`` on this channel and its latest conversation; for a
    user not stored yet, the ids their first message will create (nothing is stored now)."""
    external_id = f"user:{user_id}"
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
        conv_id = conv.id if conv is not None else new_id("cv_")  # created by the next message
        return Visitor(channel.workspace_id, channel.id, identity.contact_id, conv_id, external_id)
    conn = await session.connection()
    for n in range(ERASED_AGAIN_LIMIT):
        contact_id, conv_id = _derived_ids(settings.secret_key, channel.id, user_id, n)
        if not await ledger.erased(conn, channel.workspace_id, [contact_id]):
            return Visitor(channel.workspace_id, channel.id, contact_id, conv_id, external_id)
    return _new_visitor(channel, external_id)  # erased that often: a fresh id per session


def _new_visitor(channel: m.Channel, external_id: str | None = None) -> Visitor:
    """A visitor's ids, reserved: nothing is stored until their first message."""
    return Visitor(
        channel.workspace_id,
        channel.id,
        new_id("ct_"),
        new_id("cv_"),
        external_id or new_id("v_"),
    )


async def _visitor(
    session: Any, settings: Any, channel: m.Channel, token: str | None, verified: str | None
) -> Visitor:
    """Who this session is for: the verified user, the visitor of a live token, or new."""
    if verified is not None:
        # An anonymous token is ignored here: unverified history is never merged in.
        return await _verified_visitor(session, settings, channel, verified)
    if not token:
        return _new_visitor(channel)
    found = read_token(settings.secret_key, token)
    if found is None or found[0].channel_id != channel.id:
        raise ApiError(403, "forbidden", "The visitor token is not valid here.")
    visitor, issued_at = found
    if time.time() - issued_at > settings.visitor_token_days * 86400:
        return _new_visitor(channel)  # past its lifetime: start afresh
    conv = await session.get(m.Conversation, visitor.conversation_id)
    if conv is not None:
        return visitor
    contact = await session.get(m.Contact, visitor.contact_id)
    if contact is None:
        if await ledger.erased(
            await session.connection(), channel.workspace_id, [visitor.contact_id]
        ):
            raise ApiError(403, "forbidden", "This visitor's data was erased.")
        # Not written yet (or removed by retention): the same ids, stored at the first message.
        return replace(visitor, external_id=visitor.external_id or new_id("v_"))
    # Retention removed the old conversation: the same visitor starts a new one, stored
    # with its first message.
    return replace(visitor, conversation_id=new_id("cv_"), external_id=None)


@declare(widget_contract.WIDGET_SESSION)
async def create_session(request: Request) -> Response:
    body = await widget_contract.WIDGET_SESSION.parse(request, widget_contract.WidgetSessionBody)
    key, token, user_id, user_hash = body.key, body.visitor_token, body.user_id, body.user_hash
    await limits.widget_session(request, key)
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
        visitor = await _visitor(session, settings, channel, token, verified)
        question = await consent.for_visitor(
            await session.connection(), visitor.workspace_id, visitor.contact_id
        )
    ticket = issue_ticket(settings.secret_key, visitor)
    return JSONResponse(
        {
            "visitor_token": issue_token(settings.secret_key, visitor),
            "conversation_id": visitor.conversation_id,
            "ws_url": f"{settings.ws_base}/ws/widget?token={ticket}",
            "title": channel.config.get("title"),
            "color": channel.config.get("color"),
            "consent": question,  # storage.consent: the widget asks before chatting
        },
        status_code=201,
    )


routes = [Route("/api/widget/sessions", create_session, methods=["POST"])]
