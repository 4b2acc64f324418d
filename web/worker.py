"""The worker: sends queued replies to the providers, applies retention hourly, and
writes a daily backup when ``INVIARO_BACKUP_DIR`` and ``INVIARO_BACKUP_KEY`` are set.

``inviaro worker`` runs :func:`run_worker` (M of them beside N web processes in
production); the embedded single-process default runs the same loop inside the web app
(:func:`start_in_process`). Each pass claims due outbox rows with a lease
(:func:`storage.outbox.claim_due`), sends each through its channel's adapter with at most
:data:`CONCURRENCY` calls in flight, and records the outcome before the next pass:

- claimed: the message is ``sending`` (a receipt says so, with the attempt's number);
- accepted: the message is ``sent`` with the provider's id; a ``sent`` receipt goes out;
- a retryable failure (429, 5xx, timeouts, throttling codes): exponential backoff with
  jitter, at least the provider's ``Retry-After``; the message is ``queued`` again with the
  reason, its attempts and the next attempt's time; after :data:`MAX_ATTEMPTS` it fails;
- a permanent failure (bad token, unknown recipient, deleted channel): ``failed`` at once
  with the provider's reason in words and its code, and a ``failed`` receipt.

Delivery is at-least-once: a worker killed between the provider's answer and the commit
leaves a lease that expires, and the send is repeated (the providers take no idempotency
key). Two live workers never send one message at the same time.

``INVIARO_OUTBOX_LEASE_S`` (default 60) says how long a claim lasts; providers are reached
through ``services.http``, which ``INVIARO_PROVIDER_ORIGINS`` may point at stand-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from adapters.base import (
    ChannelAdapter,
    ConfigError,
    SendError,
    UnknownChannelKind,
    adapter_for,
    numbered,
)
from hub.model import SendFailure, utcnow
from hub.store import Receipt
from storage import faults, outbox, retention, snooze
from storage import models as m
from web import backups, media_inbound, media_links
from web.api.conversations import wire_conversations
from web.auth.channels import adapter_config
from web.config import Settings
from web.crypto import DecryptError
from web.services import Services

log = logging.getLogger("inviaro.worker")

BATCH = 50
CONCURRENCY = 8
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 15 * 60.0
IDLE_POLL_S = 1.0
RETENTION_EVERY_S = 3600.0
LEDGER_EVERY_S = 60.0


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Delay before attempt ``attempts + 1``: 2 s, 4 s, 8 s... capped at 15 min, with
    "equal jitter" so a burst of throttled sends does not return in lockstep, and never
    sooner than the provider asked."""
    ceiling: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, BACKOFF_CAP_S))
    return delay


def _adapter(settings: Settings, item: outbox.Claimed) -> ChannelAdapter:
    config = adapter_config(settings, item.channel_config, item.channel_secrets)
    return adapter_for(item.channel_kind, config)


def _options(item: outbox.Claimed) -> list[tuple[str, str]]:
    """A flow's choice to render natively: ``(label, value)`` pairs, or none."""
    raw = (item.payload or {}).get("options")
    if not isinstance(raw, list):
        return []
    return [
        (str(o.get("label")), str(o.get("value")))
        for o in raw
        if isinstance(o, dict) and o.get("label") is not None
    ]


def _template(item: outbox.Claimed) -> tuple[str, str, list[str]] | None:
    """``(name, language, parameters)`` when the message is a template send, else None."""
    template = (item.payload or {}).get("template")
    if not isinstance(template, dict):
        return None
    parameters = template.get("parameters") or []
    return (
        str(template.get("name", "")),
        str(template.get("language", "")),
        [str(p) for p in parameters] if isinstance(parameters, list) else [],
    )


async def _deliver(
    services: Services, client: httpx.AsyncClient, item: outbox.Claimed, now: datetime
) -> Receipt | None:
    """Send one claimed message and record the outcome; never raises for a send failure."""
    engine = services.engine
    if item.channel_disabled:
        failure = SendFailure("channel_deleted", "The channel was deleted before sending.")
        return await outbox.fail(engine, item, failure)
    if not item.recipient:
        failure = SendFailure("no_recipient", "The contact has no identity on this channel.")
        return await outbox.fail(engine, item, failure)
    try:
        adapter = _adapter(services.settings, item)
    except (ConfigError, UnknownChannelKind, DecryptError) as exc:
        failure = SendFailure("channel_config", f"The channel cannot send: {exc}")
        return await outbox.fail(engine, item, failure)
    started = time.perf_counter()
    try:
        attachments = await media_links.for_provider(services, client, adapter, item.attachments)
        template = _template(item)
        if template is not None:
            send_template = getattr(adapter, "send_template", None)
            if send_template is None:
                failure = SendFailure(
                    "unsupported", f"A {item.channel_kind} channel cannot send a template."
                )
                return await outbox.fail(engine, item, failure)
            result = await send_template(client, item.recipient, *template)
        elif options := _options(item):
            send_options = getattr(adapter, "send_options", None)
            if send_options is not None:
                result = await send_options(client, item.recipient, item.text, options)
            else:
                text = numbered(item.text, options)
                result = await adapter.send(client, item.recipient, text, attachments)
        else:
            result = await adapter.send(client, item.recipient, item.text, attachments)
    except SendError as exc:
        return await _failed_send(services, item, exc, now)
    except Exception as exc:  # a bug or an unexpected library error: retry, loudly
        log.exception("outbox %s: unexpected error while sending", item.outbox_id)
        exc_as = SendError(f"unexpected error: {type(exc).__name__}", retryable=True)
        return await _failed_send(services, item, exc_as, now)
    log.info(
        "outbox %s: sent message %s via %s in %.0f ms (attempt %d)",
        item.outbox_id,
        item.message_id,
        item.channel_kind,
        (time.perf_counter() - started) * 1000,
        item.attempts,
    )
    return await outbox.complete_sent(engine, item, result.provider_message_id)


def _failure(exc: SendError) -> SendFailure:
    """What the operator reads: the adapter's sentence for the provider's code, else the
    technical detail; the provider's code, else ours."""
    code = exc.code or "provider_error"
    return SendFailure(code, exc.for_people)


async def _failed_send(
    services: Services, item: outbox.Claimed, exc: SendError, now: datetime
) -> Receipt | None:
    failure = _failure(exc)
    if exc.retryable and item.attempts < MAX_ATTEMPTS:
        delay = backoff_seconds(item.attempts, exc.retry_after)
        log.info(
            "outbox %s: attempt %d failed (%s); retrying in %.1f s",
            item.outbox_id,
            item.attempts,
            exc.detail,
            delay,
        )
        at = now + timedelta(seconds=delay)
        return await outbox.retry_later(services.engine, item, at, failure, exc.detail)
    log.info(
        "outbox %s: giving up after %d attempts: %s", item.outbox_id, item.attempts, exc.detail
    )
    return await outbox.fail(services.engine, item, failure)


async def run_once(
    services: Services,
    *,
    client: httpx.AsyncClient | None = None,
    now: datetime | None = None,
    limit: int = BATCH,
) -> int:
    """Claim the due outbox rows once, send them, record and publish the outcomes.

    Returns how many rows were claimed (0: nothing was due). ``client`` defaults to
    ``services.http``; ``now`` lets a caller act as if it were later (a test skipping a
    backoff). Storage errors propagate; sends that fail are recorded, not raised.
    """
    client = client or services.http
    now = now or utcnow()
    items = await outbox.claim_due(
        services.engine,
        limit=limit,
        lease=timedelta(seconds=services.settings.outbox_lease_s),
        now=now,
    )
    if items:
        await services.hub.publish_receipts([outbox.sending(i) for i in items])
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(item: outbox.Claimed) -> Receipt | None:
            async with gate:
                return await _deliver(services, client, item, now)

        outcomes = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
        receipts: list[Receipt] = []
        for outcome in outcomes:
            if isinstance(outcome, Receipt):
                receipts.append(outcome)
            elif isinstance(outcome, BaseException):
                # Recording failed (database away): the lease runs out and it is retried.
                log.warning("outbox: recording an outcome failed: %s", type(outcome).__name__)
        if receipts:
            await services.hub.publish_receipts(receipts)
    services.outbox_backlog = await outbox.backlog(services.engine)
    await wake_snoozed(services, now)
    return len(items)


async def wake_snoozed(services: Services, now: datetime) -> int:
    """Reopen the conversations whose snooze ran out, and tell their operators: the earliest
    due first, in one publish (one bus round trip however many woke)."""
    woken = await snooze.wake_due(services.engine, now)
    if not woken:
        return 0
    order = {c: n for n, (_, c) in enumerate(woken)}
    async with services.db() as session:
        found = await session.scalars(
            select(m.Conversation).where(m.Conversation.id.in_(list(order)))
        )
        convs = sorted(found, key=lambda conv: order[conv.id])  # the earliest due first
        wires = await wire_conversations(session, convs)
    await services.hub.publish_conversations(
        [(conv.workspace_id, wire) for conv, wire in zip(convs, wires, strict=True)]
    )
    log.info("snooze: reopened %d conversations", len(woken))
    return len(woken)


async def _retention(settings: Settings) -> None:
    """One retention pass; a failure waits for the next hour."""
    try:
        report = await retention.run_purge(
            settings.database_url,
            audit_retention_days=settings.audit_retention_days,
            workspace_recovery_days=settings.workspace_recovery_days,
            billing_retention_years=settings.billing_retention_years,
            media_dir=settings.media_path,
        )
        log.info("retention: %s", report.summary())
    except Exception:
        log.exception("retention pass failed; next try in an hour")


async def work_forever(services: Services, stop: asyncio.Event | None = None) -> None:
    """Send due replies until ``stop`` is set (or the task is cancelled); retention hourly.

    Busy: the next pass starts at once. Idle or failing: wait :data:`IDLE_POLL_S`.
    """
    stop = stop or asyncio.Event()
    next_retention = time.monotonic() + 60.0  # not in the first minute of a start-up storm
    next_ledger = time.monotonic() + LEDGER_EVERY_S
    backup: asyncio.Task[None] | None = None  # beside the sends, never in their way
    while not stop.is_set():
        claimed = 0
        try:
            claimed = await run_once(services)
            claimed += await media_inbound.retry_due(services)
            runner = services.flow_runner
            if runner is not None:
                claimed += await runner.fire_due_timers()
                claimed += await runner.take_left_behind()
                claimed += await runner.carry_out_left_behind()
                claimed += await runner.start_no_reply_runs()
        except Exception as exc:
            if faults.is_outage(exc):  # said once per outage, not once per poll
                services.store.health.failed(exc)
            else:
                log.warning("outbox pass failed (%s); retrying", type(exc).__name__)
        if time.monotonic() >= next_retention:
            next_retention = time.monotonic() + RETENTION_EVERY_S
            await _retention(services.settings)
            if backup is None or backup.done():  # once a day: it checks the newest backup
                backup = asyncio.create_task(backups.daily_backup(services))
        if time.monotonic() >= next_ledger:
            next_ledger = time.monotonic() + LEDGER_EVERY_S
            await backups.sync_ledger(services)
        if claimed == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), IDLE_POLL_S)
    if backup is not None:
        await backup  # a backup under way finishes (it never raises)


def start_in_process(services: Services) -> None:
    """Run the worker loop inside this (web) process when ``settings.run_worker`` says
    so: the embedded SQLite default has no separate worker. Safe to call twice."""
    if not services.settings.run_worker or services.outbox_worker_started:
        return
    services.outbox_worker_started = True
    services.spawn(work_forever(services), "outbox-worker")


async def run_worker(settings: Settings) -> None:
    """``inviaro worker``: until SIGTERM or SIGINT, then finish the pass and close."""
    services = await Services.start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("worker started (lease %s s)", services.settings.outbox_lease_s)
    try:
        await work_forever(services, stop)
    finally:
        await services.close()
        log.info("worker stopped")
