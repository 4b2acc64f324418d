"""Inbound channel media into the hub's own media storage, at once.

Provider media does not last: Messenger, Instagram and Viber URLs expire, and WhatsApp
keeps a media id for weeks only. So the writer queues a channel message's media in
``media_fetches`` in the message's own transaction (:mod:`storage.batch_plan`): once the
webhook is answered, a crash cannot lose the copy. Whoever runs the worker downloads each
file (WhatsApp: its media id through the channel's token; the others: the URL), types it
by its bytes like an upload, stores it, and rewrites the message's attachments to the
hub's links (keeping the provider's media id). The ack never waits for a download: the
embedded default runs the worker in-process and starts the download as soon as the message
is accepted; separate worker processes take the queue within their next poll.

A download that fails for a reason that may pass (timeouts, 429, 5xx) leaves the message
with the provider's reference and its queue row, tried again with a growing delay,
:data:`MAX_ATTEMPTS` times; a file the provider no longer has, one over the size limit,
of a type the hub refuses, or past the workspace's storage quota (``INVIARO_MEDIA_QUOTA_BYTES``,
a warning in the log) keeps the provider's reference for good. A copy is published again as
the message's frame, so open inboxes swap the provider's link for it.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import delete, select, update

from adapters.base import ConfigError, ProviderError
from adapters.meta import WhatsAppAdapter
from hub.model import Attachment, as_utc, utcnow
from hub.store import WriteResult
from storage import media
from storage import models as m
from storage.models import table_of
from storage.serialize import message_from_row
from web.auth.channels import adapter_config
from web.crypto import DecryptError
from web.media_links import attachment_of

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger("inviaro.media")

KINDS = frozenset({"whatsapp", "messenger", "instagram", "viber"})
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=1)
CLAIM = timedelta(minutes=5)  # a retry in flight is not taken by another worker meanwhile
T_MSG = table_of(m.Message)
T_FETCH = table_of(m.MediaFetch)

_tasks: set[asyncio.Task[None]] = set()


class _Retry(Exception):
    """The download may work later."""


class _Refused(Exception):
    """The file will not be kept: the message keeps the provider's reference for good."""


class _OverQuota(_Refused):
    """The workspace keeps as much as its quota allows: worth an administrator's look."""


def install(services: Services) -> None:
    """With the worker in this process, download an accepted message's media at once
    instead of at the worker's next poll (the writer queued it with the message)."""
    if not services.settings.run_worker:
        return

    def accepted(result: WriteResult) -> None:
        if result.created and any(a.at_provider for a in result.message.attachments):
            task = asyncio.ensure_future(_fetch_now(services, result.message.id))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    services.hub.on_accepted.append(accepted)


async def _fetch_now(services: Services, message_id: str) -> None:
    """Download a just-queued message's media unless a worker took it; never raises."""
    try:
        await _claim_and_fetch(services, message_id, utcnow(), services.http)
    except Exception:
        log.exception("media of message %s: the download could not start", message_id)


async def fetch(
    services: Services, message_id: str, client: httpx.AsyncClient | None = None
) -> None:
    """Download what the message still holds by the provider's reference; never raises."""
    try:
        await _fetch(services, message_id, client or services.http)
    except Exception:
        log.exception("media of message %s: the download failed unexpectedly", message_id)


async def _fetch(services: Services, message_id: str, client: httpx.AsyncClient) -> None:
    async with services.db() as db:
        row = await db.get(m.Message, message_id)
        channel = await db.get(m.Channel, row.channel_id) if row is not None else None
        conv = await db.get(m.Conversation, row.conversation_id) if row is not None else None
    if row is None or channel is None or conv is None or channel.kind not in KINDS:
        await _forget(services, message_id)
        return
    kept: list[Attachment] = []
    retry: str | None = None
    for attachment in (Attachment.from_record(a) for a in row.attachments or ()):
        if not attachment.at_provider:
            kept.append(attachment)
            continue
        try:
            kept.append(await _download(services, client, channel, conv, attachment))
        except _Retry as exc:
            retry = retry or str(exc)
            kept.append(attachment)
        except _Refused as exc:
            level = logging.WARNING if isinstance(exc, _OverQuota) else logging.INFO
            log.log(level, "media of message %s kept at the provider: %s", message_id, exc)
            kept.append(attachment)
    records = [a.to_record() for a in kept]
    if records != list(row.attachments or ()):
        async with services.engine.begin() as conn:
            await conn.execute(
                update(T_MSG).where(T_MSG.c.id == message_id).values(attachments=records)
            )
        # Open inboxes show the hub's copy in place of the provider's link, without reload.
        await services.hub.publish_message(replace(message_from_row(row), attachments=tuple(kept)))
    if retry is None:
        await _forget(services, message_id)
    else:
        await _later(services, message_id, retry)


async def _download(
    services: Services,
    client: httpx.AsyncClient,
    channel: m.Channel,
    conv: m.Conversation,
    attachment: Attachment,
) -> Attachment:
    settings = services.settings
    files = media.MediaFiles(settings.media_path)
    limit = settings.media_max_bytes
    try:
        if channel.kind == "whatsapp" and attachment.provider_media_id:
            content = await _whatsapp(services, client, channel, attachment.provider_media_id)
            received = await files.receive(_one(content), limit)
        else:
            received = await _by_url(files, client, attachment.url or "", limit)
    except media.TooLarge:
        raise _Refused("larger than the size limit") from None
    try:
        quota = settings.media_quota_bytes
        if await media.over_quota(services.engine, conv.workspace_id, received.size, quota):
            raise _OverQuota(f"workspace {conv.workspace_id} is at its storage quota")
        name = media.clean_name(attachment.name or _default_name(attachment.mime))
        with received.path.open("rb") as head:
            mime = media.sniff(head.read(4096), name, received.path)
        if mime is None:
            raise _Refused("a type the hub does not keep")
        media_id = media.new_media_id()
        thumbnail = await files.keep(received, conv.workspace_id, media_id, mime)
    finally:
        received.path.unlink(missing_ok=True)
    row = await media.insert(
        services.engine,
        media_id=media_id,
        workspace_id=conv.workspace_id,
        conversation_id=conv.id,
        contact_id=conv.contact_id,
        mime=mime,
        name=name,
        received=received,
        thumbnail=thumbnail,
        shared=True,
    )
    stored = attachment_of(_Row(row))
    return Attachment(
        url=stored.url,
        mime=mime,
        name=name,
        size=received.size,
        provider_media_id=attachment.provider_media_id,
        media_id=media_id,
        thumbnail_url=stored.thumbnail_url,
    )


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _default_name(mime: str | None) -> str:
    major = (mime or "file").split("/", 1)[0].rstrip("*") or "file"
    return major + (mimetypes.guess_extension(mime or "") or "")


async def _one(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def _whatsapp(
    services: Services, client: httpx.AsyncClient, channel: m.Channel, media_id: str
) -> bytes:
    try:
        config = adapter_config(services.settings, channel.config, channel.secrets)
        adapter = WhatsAppAdapter.from_config(config)
    except (ConfigError, DecryptError):
        raise _Retry("the channel's access token cannot be read") from None
    try:
        content, _ = await adapter.fetch_media(client, media_id)
    except ProviderError as exc:
        if exc.retryable:
            raise _Retry(exc.detail) from None
        raise _Refused(exc.detail) from None
    return content


async def _by_url(
    files: media.MediaFiles, client: httpx.AsyncClient, url: str, limit: int
) -> media.Received:
    """A provider's media URL (https only), streamed within the limit."""
    if not url.startswith("https://"):
        raise _Refused("not an https URL")
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retry(f"HTTP {response.status_code}")
            if not response.is_success:
                raise _Refused(f"HTTP {response.status_code} (expired?)")
            return await files.receive(response.aiter_bytes(), limit)
    except httpx.HTTPError as exc:
        raise _Retry(type(exc).__name__) from None


async def _forget(services: Services, message_id: str) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(delete(T_FETCH).where(T_FETCH.c.message_id == message_id))


async def _later(services: Services, message_id: str, error: str) -> None:
    """Note the failed try: the worker tries again later, or gives up after the last."""
    async with services.engine.begin() as conn:
        attempts = await conn.scalar(
            select(T_FETCH.c.attempts).where(T_FETCH.c.message_id == message_id)
        )
        if attempts is None:
            return  # erased meanwhile
        tries = attempts + 1
        if tries >= MAX_ATTEMPTS:
            log.warning(
                "media of message %s: gave up after %d tries (%s)", message_id, tries, error
            )
            await conn.execute(delete(T_FETCH).where(T_FETCH.c.message_id == message_id))
            return
        await conn.execute(
            update(T_FETCH)
            .where(T_FETCH.c.message_id == message_id)
            .values(
                attempts=tries,
                next_attempt_at=utcnow() + RETRY_BASE * 2 ** (tries - 1),
                last_error=error[:300],
            )
        )


async def retry_due(
    services: Services, client: httpx.AsyncClient | None = None, limit: int = 20
) -> int:
    """One pass of the worker: the downloads due again; how many were tried."""
    now = utcnow()
    async with services.engine.connect() as conn:
        due = list(
            await conn.scalars(
                select(T_FETCH.c.message_id)
                .where(T_FETCH.c.next_attempt_at <= now)
                .order_by(T_FETCH.c.next_attempt_at)
                .limit(limit)
            )
        )
    tried = 0
    for message_id in due:
        tried += await _claim_and_fetch(services, message_id, now, client or services.http)
    return tried


async def _claim_and_fetch(
    services: Services, message_id: str, now: datetime, client: httpx.AsyncClient
) -> int:
    """Download one queued message's media unless another worker took it; 1 if tried."""
    async with services.engine.begin() as conn:
        claimed = await conn.execute(
            update(T_FETCH)
            .where(T_FETCH.c.message_id == message_id, T_FETCH.c.next_attempt_at <= now)
            .values(next_attempt_at=as_utc(now) + CLAIM)
        )
    if claimed.rowcount != 1:
        return 0
    await fetch(services, message_id, client)
    return 1
