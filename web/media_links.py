"""How a stored file is named on the wire, reached, and sent out.

A message carries a *stable* link, ``/api/files/{media_id}``: it is stored with the message,
replayed from the database and encoded once for every socket, so it can hold no expiring
signature. That route checks who asks (an operator of the workspace) and answers ``303``
with a *signed* link, ``/api/files/signed/{token}``, valid for ``media_link_s`` (5 minutes).
The signed link alone opens the file, which is what an ``<img>`` needs (no headers), and
it is worthless once expired; a widget visitor, on another site and without the operator's
cookie, asks ``/api/widget/files/{media_id}`` with its visitor token for the same links.

Outbound, a file goes to the provider the way its API takes it: uploaded first when the
adapter can (WhatsApp's ``/media``, then sent by id), else as a signed public link the
provider fetches (Messenger, Instagram, Viber), valid for :data:`PROVIDER_LINK_S`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from itsdangerous import BadSignature, URLSafeSerializer

from adapters.base import SendError
from hub.model import Attachment, rfc3339
from storage import media

if TYPE_CHECKING:
    from web.services import Services

PROVIDER_LINK_S = 24 * 3600  # a provider may fetch late (queues, retries)


class LinkExpired(Exception):
    """The signed link is past its time or was never signed by this hub."""


def file_url(media_id: str) -> str:
    return f"/api/files/{media_id}"


def attachment_of(row: Any) -> Attachment:
    """A stored file as a message's attachment, with stable links only."""
    thumb = f"{file_url(row.id)}?thumb=true" if row.thumbnail else None
    return Attachment(
        url=file_url(row.id),
        mime=row.mime,
        name=row.name,
        size=row.size,
        media_id=row.id,
        thumbnail_url=thumb,
    )


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="inviaro.media")


def sign(secret_key: str, media_id: str, thumb: bool, ttl_s: int, now: float | None = None) -> str:
    """The signed path of a file (or its thumbnail), valid for ``ttl_s`` from ``now``."""
    expires = int((now if now is not None else time.time()) + ttl_s)
    token = _serializer(secret_key).dumps([media_id, 1 if thumb else 0, expires])
    return f"/api/files/signed/{token}"


def read_signed(secret_key: str, token: str, now: float | None = None) -> tuple[str, bool]:
    """(media id, thumbnail?) of a signed link; :class:`LinkExpired` when it is not valid."""
    try:
        media_id, thumb, expires = _serializer(secret_key).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise LinkExpired from None
    if not isinstance(expires, int) or expires < (now if now is not None else time.time()):
        raise LinkExpired
    return str(media_id), bool(thumb)


def links(services: Services, row: Any) -> dict[str, Any]:
    """Absolute signed links to a file and its thumbnail, and when they expire."""
    settings = services.settings
    ttl = settings.media_link_s
    now = time.time()
    base = settings.public_url
    thumb = sign(settings.secret_key, row.id, True, ttl, now) if row.thumbnail else None
    return {
        "url": base + sign(settings.secret_key, row.id, False, ttl, now),
        "thumbnail_url": base + thumb if thumb else None,
        "expires_at": rfc3339(datetime.fromtimestamp(now + ttl, UTC)),
    }


def resolver(services: Services) -> Any:
    """The hub's ``resolve_attachments``: media ids of one conversation as attachments."""

    async def resolve(
        workspace_id: str, conversation_id: str, media_ids: tuple[str, ...], private: bool
    ) -> tuple[Attachment, ...]:
        rows = await media.find(services.engine, media_ids)
        found = []
        for media_id in dict.fromkeys(media_ids):
            row = rows.get(media_id)
            if (
                row is None
                or row.workspace_id != workspace_id
                or row.conversation_id != conversation_id
            ):
                raise LookupError(media_id)
            found.append(attachment_of(row))
        if not private:
            await media.share(services.engine, media_ids)
        return tuple(found)

    return resolve


async def for_provider(
    services: Services, client: httpx.AsyncClient, adapter: Any, attachments: tuple[Attachment, ...]
) -> tuple[Attachment, ...]:
    """The hub's own files of an outbound message as the provider takes them."""
    if not any(a.media_id and not a.provider_media_id for a in attachments):
        return attachments
    rows = await media.find(services.engine, [a.media_id for a in attachments if a.media_id])
    files = media.MediaFiles(services.settings.media_path)
    upload = getattr(adapter, "upload_media", None)
    ready = []
    for attachment in attachments:
        row = rows.get(attachment.media_id) if attachment.media_id else None
        if attachment.media_id is None or attachment.provider_media_id:
            ready.append(attachment)
        elif row is None:
            raise SendError("the attached file was deleted before sending", retryable=False)
        elif upload is not None:
            path = files.path(row.workspace_id, row.id)
            content = await asyncio.to_thread(path.read_bytes)
            provider_id = await upload(client, content, row.mime, row.name)
            ready.append(replace(attachment, provider_media_id=provider_id))
        else:
            settings = services.settings
            signed = sign(settings.secret_key, row.id, False, PROVIDER_LINK_S)
            ready.append(replace(attachment, url=settings.public_url + signed))
    return tuple(ready)
