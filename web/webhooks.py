"""Channel webhooks: Meta (WhatsApp, Messenger, Instagram) and Viber, in their own formats.

The order on every POST is fixed, because a 2xx tells the provider it may forget the
event: read the raw body once (size-limited), check the signature with the channel's
decrypted secret before anything parses it (401, nothing stored), parse (400), then
store every message through :meth:`hub.service.Hub.accept` and every delivery report
through :mod:`storage.outbox`, and only then answer 200. A storage failure answers 503 so
the provider redelivers; redelivery is idempotent (provider message ids are unique per
channel, statuses only move forward). Logs carry ids and counts, never message bodies.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import replace
from functools import cache

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from adapters.base import ChannelAdapter, ConfigError, PayloadError, ProviderError, adapter_for
from adapters.meta import verify_challenge
from adapters.viber import ViberAdapter
from hub.model import (
    Attachment,
    Author,
    ChannelEvent,
    Inbound,
    ProviderMessage,
    ProviderStatus,
    ProviderWatermark,
)
from hub.store import Gone, Receipt, Unavailable
from storage import faults, outbox
from storage.models import Channel
from web import limits, metrics
from web.app_state import services_of
from web.auth.channels import adapter_config, channel_secrets, load_channel
from web.auth.context import MANAGERS, require
from web.contracts import channels as channels_contract
from web.contracts import webhooks as webhooks_contract
from web.crypto import DecryptError
from web.errors import ApiError, error_response, read_body
from web.failures import RETRY_AFTER_S
from web.operation import declare
from web.request_timer import name_door
from web.services import Services

log = logging.getLogger("inviaro.webhooks")

META_KINDS = ("whatsapp", "messenger", "instagram")
MAX_BODY = 4 * 1024 * 1024  # Meta batches up to 1,000 updates; far below this


def media_url(channel_id: str, media_id: str) -> str:
    """Where operators fetch a WhatsApp media file: the authenticated proxy in web/media."""
    return f"/api/media/{channel_id}/{media_id}"


def _services(request: Request) -> Services:
    services = services_of(request)
    return services


def _count(provider: str, result: str) -> None:
    _webhooks_counter(provider, result).inc()


@cache  # a few providers times a few results
def _webhooks_counter(provider: str, result: str) -> Counter:
    """The counter's series for one (provider, result): looking it up by labels costs more
    than the count itself (2 µs of a webhook's CPU)."""
    return metrics.WEBHOOKS.labels(provider=provider, result=result)


async def _channel(request: Request, kinds: tuple[str, ...], provider: str) -> Channel:
    await limits.channel_request(request, request.path_params["channel_id"])
    channel = await _services(request).channels.get(request.path_params["channel_id"], kinds)
    if channel is None:
        _count(provider, "not_found")
        raise ApiError(404, "not_found", "There is no such channel.")
    name_door(request.scope, f"webhook_{channel.kind}")
    return channel


# Adapters by the channel row the channel cache handed out: that row is shared by every
# request for up to web.channel_cache.TTL_S, so its secrets are decrypted and its adapter
# built once per refresh, not per request (34 us of a webhook's CPU).
_ADAPTERS: weakref.WeakKeyDictionary[Channel, ChannelAdapter] = weakref.WeakKeyDictionary()


def _adapter(request: Request, channel: Channel, provider: str) -> ChannelAdapter:
    """The channel's adapter with its secrets; a channel whose secrets cannot be read
    cannot check a signature, so its webhooks are refused like unsigned ones."""
    adapter = _ADAPTERS.get(channel)
    if adapter is not None:
        return adapter
    try:
        adapter = _ADAPTERS[channel] = adapter_for(
            channel.kind,
            adapter_config(_services(request).settings, channel.config, channel.secrets),
        )
        return adapter
    except (ConfigError, DecryptError) as exc:
        log.warning("channel %s cannot verify webhooks: %s", channel.id, type(exc).__name__)
        _count(provider, "unauthorized")
        raise ApiError(
            401, "unauthorized", "This channel has no usable secret to check signatures with."
        ) from None


@declare(webhooks_contract.META_VERIFY)
async def meta_verify(request: Request) -> Response:
    """The subscription handshake: ``hub.challenge`` back as text/plain, else 403."""
    channel = await _channel(request, META_KINDS, "meta")
    try:
        token = channel_secrets(_services(request).settings, channel).get("verify_token", "")
    except DecryptError:
        token = ""
    challenge = verify_challenge(request.query_params, token)
    if challenge is None:
        _count("meta", "forbidden")
        return error_response(403, "forbidden", "The verify token does not match.")
    _count("meta", "verified")
    return PlainTextResponse(challenge)


@declare(webhooks_contract.META_EVENT)
async def meta_event(request: Request) -> Response:
    channel = await _channel(request, META_KINDS, "meta")
    return await _receive(request, channel, "meta")


@declare(webhooks_contract.VIBER_EVENT)
async def viber_event(request: Request) -> Response:
    channel = await _channel(request, ("viber",), "viber")
    return await _receive(request, channel, "viber")


async def _receive(request: Request, channel: Channel, provider: str) -> Response:
    try:
        body = await read_body(request, MAX_BODY)
    except ApiError:
        _count(provider, "too_large")
        raise
    adapter = _adapter(request, channel, provider)
    if not adapter.verify(request.headers, body):
        _count(provider, "unauthorized")
        log.info("webhook %s channel=%s: bad or missing signature", provider, channel.id)
        return error_response(401, "unauthorized", "The signature is missing or wrong.")
    try:
        events = adapter.parse(body)
    except PayloadError as exc:
        _count(provider, "bad_payload")
        log.info("webhook %s channel=%s: bad payload: %s", provider, channel.id, exc.detail)
        return error_response(400, "bad_payload", exc.detail)
    try:
        stored, duplicates, receipts = await store_events(_services(request), channel, events)
    except Exception as exc:
        _count(provider, "unavailable")
        # An outage is logged once by the storage layer, not once per webhook.
        outage = isinstance(exc, Unavailable) or faults.is_outage(exc)
        log.log(
            logging.INFO if outage else logging.WARNING,
            "webhook %s channel=%s: storing failed (%s); the provider will redeliver",
            provider,
            channel.id,
            type(exc).__name__,
        )
        return error_response(
            503,
            "unavailable",
            "The events could not be stored; retry.",
            {"Retry-After": str(RETRY_AFTER_S)},
        )
    _count(provider, "ok")
    log.info(
        "webhook %s channel=%s: %d events, %d messages stored, %d duplicates, %d receipts",
        provider,
        channel.id,
        len(events),
        stored,
        duplicates,
        len(receipts),
    )
    return JSONResponse({"ok": True})


def _inbound(channel: Channel, event: ProviderMessage) -> Inbound:
    attachments = tuple(_with_url(channel, a) for a in event.attachments)
    if event.echo:
        # The business's own message seen again (Messenger/Instagram echo): outbound, and
        # already with the provider, so it never enters the outbox.
        return Inbound(
            workspace_id=channel.workspace_id,
            channel_id=channel.id,
            direction="out",
            author=Author("operator"),
            text=event.text,
            attachments=attachments,
            contact_external_id=event.contact_external_id,
            provider_message_id=event.provider_message_id,
            status="sent",
            sent_at=event.sent_at,
        )
    return Inbound(
        workspace_id=channel.workspace_id,
        channel_id=channel.id,
        direction="in",
        author=Author("contact", None, event.contact_name),
        text=event.text,
        attachments=attachments,
        contact_external_id=event.contact_external_id,
        contact_name=event.contact_name,
        provider_message_id=event.provider_message_id,
        sent_at=event.sent_at,
        payload=None if event.option is None else {"option": event.option},
    )


def _with_url(channel: Channel, attachment: Attachment) -> Attachment:
    if attachment.url is None and attachment.provider_media_id and channel.kind == "whatsapp":
        return replace(attachment, url=media_url(channel.id, attachment.provider_media_id))
    return attachment


async def store_events(
    services: Services, channel: Channel, events: list[ChannelEvent]
) -> tuple[int, int, list[Receipt]]:
    """Store what a webhook reported; returns (messages stored, duplicates, receipts).

    Raises whatever the storage raised, after the rest was attempted: the caller answers
    503 and the provider's redelivery fills the gap without doubling anything.
    """
    messages = [e for e in events if isinstance(e, ProviderMessage)]
    outcomes = await asyncio.gather(
        *(services.hub.accept(_inbound(channel, e)) for e in messages), return_exceptions=True
    )
    stored = duplicates = 0
    failure: BaseException | None = None
    for outcome in outcomes:
        if isinstance(outcome, Gone):
            duplicates += 1  # erased: acknowledged so the provider stops, never stored again
        elif isinstance(outcome, BaseException):
            failure = failure or outcome
        elif outcome.created:
            stored += 1
        else:
            duplicates += 1
    receipts: list[Receipt] = []
    for event in events:
        try:
            if isinstance(event, ProviderStatus):
                receipts += await outbox.apply_status(
                    services.engine,
                    channel.id,
                    event.provider_message_id,
                    event.status,
                    event.error,
                    event.error_code,
                )
            elif isinstance(event, ProviderWatermark):
                receipts += await outbox.apply_watermark(
                    services.engine, channel.id, event.contact_external_id, event.status, event.at
                )
        except Exception as exc:
            failure = failure or exc
    if receipts:
        await services.hub.publish_receipts(receipts)
    if failure is not None:
        raise failure
    return stored, duplicates, receipts


# Viber webhook registration ---------------------------------------------------------------


async def register_viber_webhook(services: Services, channel_id: str) -> list[str]:
    """Point the Viber bot of ``channel_id`` at ``/webhooks/viber/{channel_id}``.

    Viber calls that URL while ``set_webhook`` runs, so the app must already be serving.
    Returns the event types Viber will send. Raises :class:`LookupError` for an unknown,
    deleted or non-Viber channel, :class:`adapters.base.ProviderError` when Viber refuses
    (a bad token, an unreachable URL).
    """
    async with services.db() as db:
        channel = await load_channel(db, channel_id, kinds=("viber",))
    if channel is None:
        raise LookupError("no such viber channel")
    try:
        adapter = ViberAdapter.from_config(
            adapter_config(services.settings, channel.config, channel.secrets)
        )
    except (ConfigError, DecryptError) as exc:
        raise ProviderError(
            "the channel's auth token cannot be read; set it again", retryable=False
        ) from exc
    url = f"{services.settings.public_url}/webhooks/viber/{channel.id}"
    types = await adapter.set_webhook(services.http, url)
    log.info("viber webhook registered for channel %s", channel.id)
    return types


@declare(channels_contract.REGISTER_WEBHOOK)
async def register_webhook(request: Request) -> Response:
    """``POST /api/channels/{id}/register-webhook``: (re)register on demand (Viber)."""
    principal = await require(request, roles=MANAGERS)
    services = _services(request)
    channel_id = request.path_params["channel_id"]
    async with services.db() as db:
        channel = await load_channel(db, channel_id)
    if channel is None or channel.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", "There is no such channel.")
    if channel.kind != "viber":
        raise ApiError(
            422,
            "invalid",
            "Only Viber webhooks are registered by the hub; paste Meta's in the App Dashboard.",
        )
    try:
        types = await register_viber_webhook(services, channel_id)
    except LookupError:
        raise ApiError(404, "not_found", "There is no such channel.") from None
    except ProviderError as exc:
        raise ApiError(502, "provider_error", f"Viber refused: {exc.detail}") from None
    return JSONResponse(
        {
            "webhook_url": f"{services.settings.public_url}/webhooks/viber/{channel_id}",
            "event_types": types,
        }
    )


routes = [
    Route("/webhooks/meta/{channel_id}", meta_verify, methods=["GET"]),
    Route("/webhooks/meta/{channel_id}", meta_event, methods=["POST"]),
    Route("/webhooks/viber/{channel_id}", viber_event, methods=["POST"]),
    Route("/api/channels/{channel_id}/register-webhook", register_webhook, methods=["POST"]),
]
