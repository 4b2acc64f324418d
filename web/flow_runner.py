"""The flow runner: feeds the pure interpreter (:mod:`hub.flows.engine`) the events of live
conversations and carries out what it answers.

- A contact's message advances the conversation's waiting run, or starts the
  highest-priority published flow whose trigger matches (``conversation_started``,
  ``message`` with keywords, ``outside_hours``); never for a contact whose processing is
  not normal, never in a conversation an operator holds.
- An operator's reply, or an operator taking the conversation, stops its run.
- Timers (``ask`` timeouts, ``wait``) fire from the worker (:func:`fire_due_timers`).
- A run that resolves its conversation asks the contact for a rating, as an operator's
  resolve does (:mod:`web.csat`), once: only when it was not resolved already.

Each event is consumed in one transaction with its key (``msg:<id>``, ``timer:<id>``,
``http:<run>:<epoch>``, a ``book`` step's ``slots:<run>:<epoch>:<n>`` and
``book:<run>:<epoch>:<n>``) beside the run's new state, its steps and the database side
of its actions, so it advances a run once whichever process receives it and however often.
Bot messages then go through ``Hub.accept`` (stored, sequenced, fanned out, sent through
the channel's outbox) with a ``client_id`` derived from the event, so a repeat stores none
twice. What an event leaves to do outside the database is kept in its transaction
(:mod:`hub.flows.carry`, ``flow_pending_actions``) and deleted once done; the worker
carries out again what is left past ``INVIARO_FLOW_LEASE_S``
(:meth:`FlowRunner.carry_out_left_behind`): a process killed after the run moved and
before the bot spoke loses nothing, and says nothing twice.

A contact's message is not forgotten when this process dies right after its ack: where
it could move a flow, the writer stored a ``flow_triggers`` row with it
(:mod:`storage.flow_triggers`), which this runner deletes once it decided; the worker
decides again about rows left past ``INVIARO_FLOW_LEASE_S``
(:meth:`FlowRunner.take_left_behind`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import msgspec
import orjson
from sqlalchemy import select

from hub.flows import document as doc
from hub.flows import engine
from hub.flows.carry import Carry
from hub.flows.hours import BusinessHours, InvalidHours, parse_hours
from hub.model import Author, Inbound, Message, rfc3339, utcnow
from hub.store import Receipt, Unavailable, WriteResult
from storage import faults, flow_runs, flow_triggers, flows
from storage import models as m
from storage.db import autocommit
from storage.processing import may_automate
from storage.serialize import conversation_to_wire, message_from_row
from web import ai_steps, booking, csat, metrics
from web.background import Background
from web.window import window_open

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger("inviaro.flows")

OUTSIDE_HOURS_AGAIN = timedelta(hours=12)  # an out-of-hours answer at most this often
MESSAGE_TRIGGERS = flow_triggers.MESSAGE_TRIGGERS  # the triggers a contact's message can fire
NO_REPLY_LOOKBACK = timedelta(hours=24)  # older unanswered messages never start a no_reply flow
CONCURRENCY = 4  # flow events in flight per process (each holds one connection at a time)
LEFT_BEHIND_BATCH = 500  # contact messages left behind taken in one pass (take_left_behind)
TIMER_BATCH = 50
TIMER_LEASE = timedelta(seconds=60)
TRIGGER_ATTEMPTS = 5  # a contact message's flow event taken by a worker at most this often
T_MSG = m.table_of(m.Message)
HTTP_TIMEOUT_S = 10.0
MAX_HTTP_ANSWER = 256 * 1024
SLOTS_OFFERED = 3  # a book step's choices: WhatsApp still shows three as reply buttons


@dataclass(frozen=True, slots=True)
class Committed:
    """An event consumed: the run it moved, and what it left to carry out (None: nothing;
    else kept in the database until :meth:`FlowRunner._carry_out` is done with it)."""

    run_id: str
    carry: Carry | None = None


class FlowRunner:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._background = Background(self._failed)
        # At most this many events are worked on at once: a burst of thousands of messages
        # queues here instead of taking every database connection the requests need.
        self._gate = asyncio.Semaphore(CONCURRENCY)
        # The runner's one clock (business hours, timers): tests set another.
        self.clock: Callable[[], datetime] = utcnow

    # Listening ------------------------------------------------------------------------

    def accepted(self, result: WriteResult) -> None:
        """``Hub.on_accepted``: act on a message in its own task, never in the sender's."""
        msg = result.message
        if msg.author.kind == "contact" and msg.direction == "in":
            # Most contact messages move no flow, and the writer asked which could when it
            # stored them (a query of the runner's own per burst was 8% of a busy ingest
            # door's CPU); a store that does not say leaves it to the full decision.
            if result.could_move_flow is not False:
                self._spawn(self._decide(msg))
        elif msg.author.kind == "operator" and result.created and not msg.private:
            # A private note is operators talking among themselves, not a reply.
            self._spawn(self.stop(msg.conversation_id, "an operator replied"))

    def receipts(self, receipts: list[Receipt]) -> None:
        """``Hub.on_receipts``: a bot message the channel refused (or the provider gave up
        on) moves its run to the step's ``on_error``, else fails it with the reason."""
        for receipt in receipts:
            if receipt.status == "failed":
                self._spawn(self.on_send_failed(receipt.message_id))

    def _spawn(self, coro: Any) -> None:
        self._background.spawn(self._gated(coro))

    async def _gated(self, coro: Any) -> None:
        async with self._gate:
            await coro

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, Unavailable) or faults.is_outage(exc):
            # Nobody's bug: the storage health says it once per outage, not per event.
            self.services.store.health.failed(exc)
            log.debug("a flow event waits for the database", exc_info=exc)
        else:
            log.error("a flow event failed", exc_info=exc)

    async def idle(self) -> None:
        """Wait for the events in flight (tests, shutdown)."""
        await self._background.idle()

    async def _moving(self, batch: list[Message]) -> set[str]:
        """The conversations of ``batch`` where a contact's message could move a flow (the
        writer asked the same when it queued the message's ``flow_triggers`` row: the
        others have none)."""
        async with autocommit(self.services.engine) as conn:
            return await flow_runs.with_something_to_run(
                conn,
                [(msg.workspace_id, msg.conversation_id) for msg in batch],
                MESSAGE_TRIGGERS,
            )

    async def _decide(self, msg: Message) -> None:
        """:meth:`on_contact_message`, then the message is done with; if it raises, its
        row stays for the worker (:meth:`take_left_behind`)."""
        await self.on_contact_message(msg)
        async with autocommit(self.services.engine) as conn:
            await flow_triggers.done(conn, [msg.id])

    async def take_left_behind(self, now: datetime | None = None) -> int:
        """The worker's pass over contact messages no process finished deciding about
        within the lease (it died after the ack, or the database failed it): each is
        decided again, at most once in effect (the event key ``msg:<id>``). Answers how
        many were taken; one tried :data:`TRIGGER_ATTEMPTS` times already is given up."""
        services = self.services
        lease = timedelta(seconds=services.settings.flow_lease_s)
        claimed = await flow_triggers.claim(
            services.engine, limit=LEFT_BEHIND_BATCH, lease=lease, now=now or utcnow()
        )
        if not claimed:
            return 0
        spent = [c.message_id for c in claimed if c.attempts > TRIGGER_ATTEMPTS]
        if spent:
            log.warning("gave up deciding the flow event of %d contact messages", len(spent))
        async with autocommit(services.engine) as conn:
            rows = await conn.execute(
                select(T_MSG).where(T_MSG.c.id.in_([c.message_id for c in claimed]))
            )
            batch = [message_from_row(r) for r in rows if r.id not in spent]
            replied = await flow_triggers.operator_replies(
                conn, sorted({msg.conversation_id for msg in batch})
            )
            batch = [msg for msg in batch if replied.get(msg.conversation_id, 0) < msg.seq]
            # Erased meanwhile, answered by an operator since, or given up: nothing to decide.
            kept = {msg.id for msg in batch}
            await flow_triggers.done(
                conn, [c.message_id for c in claimed if c.message_id not in kept]
            )
        batch.sort(key=lambda msg: (msg.conversation_id, msg.seq))  # each thread in order
        moving = await self._moving(batch)
        async with autocommit(services.engine) as conn:  # its flow unpublished meanwhile
            await flow_triggers.done(
                conn, [msg.id for msg in batch if msg.conversation_id not in moving]
            )
        for msg in batch:
            if msg.conversation_id in moving:
                try:
                    await self._gated(self._decide(msg))
                except Exception as exc:  # tried again after the lease
                    self._failed(exc)
        return len(claimed)

    async def carry_out_left_behind(self, now: datetime | None = None) -> int:
        """The worker's pass over consumed events whose outside work (bot messages, lines,
        survey, calls) no process finished within the lease: each is carried out again,
        its messages stored once (their ``client_id`` is the event's). Answers how many
        were taken; one tried :data:`TRIGGER_ATTEMPTS` times already is given up."""
        lease = timedelta(seconds=self.services.settings.flow_lease_s)
        claimed = await flow_runs.claim_pending(
            self.services.engine, limit=TIMER_BATCH, lease=lease, now=now or utcnow()
        )
        for pending in claimed:
            if pending.attempts > TRIGGER_ATTEMPTS:
                log.warning("gave up carrying out the flow event %s", pending.key)
                await flow_runs.carried(self.services.engine, pending.key)
                continue
            done = Committed(pending.run_id, Carry.unpack(pending.actions))
            try:
                await self._gated(
                    self._carry_out(done, pending.flow_id, pending.conversation_id, pending.key)
                )
            except Exception as exc:  # tried again after the lease
                self._failed(exc)
        return len(claimed)

    # Events ---------------------------------------------------------------------------

    async def on_contact_message(self, msg: Message) -> None:
        key = f"msg:{msg.id}"
        async with self.services.db() as db:
            if await flow_runs.event_taken(db, key):
                return
            run = await flow_runs.waiting_run(db, msg.conversation_id)
            run_id = run.id if run is not None else None
        if run_id is not None:
            await self._advance(run_id, engine.Reply(msg.text, msg.option), key)
        else:
            await self._maybe_start(msg, key)

    async def on_send_failed(self, message_id: str) -> None:
        async with self.services.db() as db:
            msg = await db.get(m.Message, message_id)
            if msg is None or msg.author_kind != "bot" or not msg.author_id:
                return
            step = (msg.payload or {}).get("flow_step")
            run = await flow_runs.waiting_run(db, msg.conversation_id)
            if not isinstance(step, str) or run is None or run.flow_id != msg.author_id:
                return
            reason = msg.error or "The channel refused the message."
            run_id = run.id
        await self._advance(run_id, engine.SendRefused(step, reason), f"refused:{message_id}")

    async def stop(self, conversation_id: str, reason: str) -> None:
        async with self.services.db() as db, db.begin():
            runs = await flow_runs.stop_runs(db, conversation_id, reason)
        for run in runs:
            metrics.FLOW_RUNS.labels(run.flow_id, "finished").inc()

    async def fire_due_timers(self) -> int:
        """Fire the due timers this worker could claim; answers how many."""
        due = await flow_runs.claim_timers(
            self.services.engine, limit=TIMER_BATCH, lease=TIMER_LEASE, now=self.clock()
        )
        for timer in due:
            await self._advance(timer.run_id, engine.TimerFired(timer.epoch), f"timer:{timer.id}")
            async with self.services.db() as db, db.begin():
                await flow_runs.delete_timer(db, timer.id)
        return len(due)

    # Starting -------------------------------------------------------------------------

    async def _maybe_start(self, msg: Message, key: str) -> None:
        async with self.services.db() as db:
            conv = await db.get(m.Conversation, msg.conversation_id)
            contact = await db.get(m.Contact, conv.contact_id) if conv else None
            workspace = await db.get(m.Workspace, msg.workspace_id)
            if conv is None or contact is None or workspace is None:
                return
            if not may_automate(contact) or conv.assignee_id is not None:
                return
            hours = _hours(workspace.business_hours)
            chosen: m.Flow | None = None
            candidates = await flows.published(db, msg.workspace_id, MESSAGE_TRIGGERS)
            for flow in candidates:
                document = await flows.version_document(db, flow.id, flow.version or 0)
                if await self._matches(db, flow, document, msg, conv, hours):
                    chosen = flow
                    break
            if chosen is None:
                return
        await self._start(chosen, document, msg.conversation_id, msg.text, key)

    async def _start(
        self, flow: m.Flow, document: dict[str, Any], conversation_id: str, text: str, key: str
    ) -> None:
        """A new run of ``flow``'s published version, consuming the event ``key``."""
        version = flow.version or 0
        parsed, problems = doc.parse(document)
        if parsed is None or problems:
            log.error("published flow %s v%s does not parse", flow.id, version)
            return
        context = await self._context(conversation_id)
        if context is None or not context[1]:
            return
        outcome = engine.start(parsed, context[0], message_text=text)
        done = await self._commit(None, flow.id, version, conversation_id, outcome, key)
        if done is not None:
            metrics.FLOW_RUNS.labels(flow.id, "started").inc()
            await self._carry_out(done, flow.id, conversation_id, key)

    async def start_no_reply_runs(self) -> int:
        """Start ``no_reply`` flows where a contact's message has waited ``after_minutes``
        with no answer (the worker calls this each pass); answers how many started."""
        now = self.clock()
        started = 0
        async with self.services.db() as db:
            flows_ = await flows.no_reply_flows(db)
            due: list[tuple[m.Flow, dict[str, Any], m.Conversation, m.Message]] = []
            for flow in flows_:
                document = await flows.version_document(db, flow.id, flow.version or 0)
                trigger = document.get("trigger") or {}
                after = timedelta(minutes=int(trigger.get("after_minutes") or 0))
                waiting = await flow_runs.unanswered(
                    db, flow.workspace_id, now - after, now - after - NO_REPLY_LOOKBACK
                )
                channels = trigger.get("channels")
                for conv, last in waiting:
                    if channels and conv.channel_id not in channels:
                        continue
                    if await flow_runs.waiting_run(db, conv.id) is not None:
                        continue
                    if await flow_runs.event_taken(db, f"noreply:{flow.id}:{last.id}"):
                        continue
                    due.append((flow, document, conv, last))
        for flow, document, conv, last in due:
            await self._start(flow, document, conv.id, last.text, f"noreply:{flow.id}:{last.id}")
            started += 1
        return started

    async def _matches(
        self,
        db: Any,
        flow: m.Flow,
        document: dict[str, Any],
        msg: Message,
        conv: m.Conversation,
        hours: BusinessHours | None,
    ) -> bool:
        trigger = document.get("trigger") or {}
        channels = trigger.get("channels")
        if channels and conv.channel_id not in channels:
            return False
        on = trigger.get("on")
        if on == "conversation_started":
            return msg.seq == 1
        if on == "message":
            words = set(re.findall(r"\w+", msg.text.casefold()))
            return any(str(k).casefold() in words for k in trigger.get("keywords") or ())
        if on == "outside_hours":
            if hours is None or hours.is_open(self.clock()):
                return False
            since = self.clock() - OUTSIDE_HOURS_AGAIN
            return not await flow_runs.started_since(db, conv.id, flow.id, since)
        return False

    # Advancing ------------------------------------------------------------------------

    async def _advance(self, run_id: str, event: engine.Event, key: str) -> None:
        async with self.services.db() as db:
            run = await db.get(m.FlowRun, run_id)
            if run is None or run.status not in flow_runs.LIVE:
                return
            document = await flows.version_document(db, run.flow_id, run.version)
            state = msgspec.convert(run.state, engine.RunState)
            flow_id, conversation_id = run.flow_id, run.conversation_id
        parsed, _ = doc.parse(document)
        context = await self._context(conversation_id)
        if parsed is None or context is None:
            return
        ctx, automate = context
        if not automate:
            await self.stop(conversation_id, "the contact's processing is restricted")
            return
        outcome = engine.advance(parsed, state, event, ctx)
        done = await self._commit(run_id, flow_id, 0, conversation_id, outcome, key, state)
        if done is not None:
            await self._carry_out(done, flow_id, conversation_id, key)

    async def _commit(
        self,
        run_id: str | None,
        flow_id: str,
        version: int,
        conversation_id: str,
        outcome: engine.Outcome,
        key: str,
        before: engine.RunState | None = None,
    ) -> Committed | None:
        """Store the run's new state with the event's key, and the database side of its
        actions, in one transaction. None when the event was already consumed, or the run
        moved on meanwhile (another event won the race)."""
        state = outcome.state
        try:
            async with self.services.db() as db, db.begin():
                if run_id is None:
                    run = m.FlowRun(
                        workspace_id=await _workspace_of(db, conversation_id),
                        flow_id=flow_id,
                        version=version,
                        conversation_id=conversation_id,
                        status=state.status,
                        state={},
                    )
                    db.add(run)
                    await db.flush()
                else:
                    locked = await flow_runs.lock_run(db, run_id)
                    if locked is None or before is None or locked.state != _wire(before):
                        return None
                    run = locked
                await flow_runs.take_event(db, key, run.id)
                run.state = _wire(state)
                run.status = state.status
                run.error = state.error
                run.updated_at = utcnow()
                flow_runs.add_steps(db, run.id, [(line.step, line.outcome) for line in outcome.log])
                if state.status in engine.FINISHED:
                    await flow_runs.drop_timers(db, run.id)
                conv_changed, resolved = await self._apply(db, run, outcome.actions)
                changed = await _conversation_wire(db, conversation_id) if conv_changed else None
                run_id = run.id
                left = Carry(outcome.actions, outcome.log, resolved)
                carry = left if left.anything() else None
                if carry is not None:
                    flow_runs.add_pending(db, key, run_id, carry.pack())
        except flow_runs.EventTaken:
            return None
        if changed is not None:
            await self.services.hub.publish_conversation(*changed)
        if state.status in engine.FINISHED:
            event = "finished" if state.status == "done" else state.status
            metrics.FLOW_RUNS.labels(flow_id, event).inc()
            if state.status == "failed":
                log.info("flow run %s failed: %s", run_id, state.error)
        return Committed(run_id, carry)

    async def _apply(
        self, db: Any, run: m.FlowRun, actions: list[engine.Action]
    ) -> tuple[bool, bool]:
        """The database side of the actions: whether the conversation changed, and whether
        they resolved it (it was not resolved before)."""
        conv = await db.get(m.Conversation, run.conversation_id)
        contact = await db.get(m.Contact, conv.contact_id)
        changed = resolved = False
        for action in actions:
            if isinstance(action, engine.SaveContact):
                if action.field.startswith("attributes."):
                    attributes = dict(contact.attributes or {})
                    attributes[action.field[11:]] = action.value
                    contact.attributes = attributes
                else:
                    setattr(contact, action.field, action.value[:320])
                contact.updated_at = utcnow()
            elif isinstance(action, engine.SetTags):
                tags = [t for t in conv.tags or () if t not in action.remove]
                conv.tags = tags + [t for t in action.add if t not in tags]
                changed = True
            elif isinstance(action, engine.AssignTo):
                await self._assign(db, conv, action.team_id, action.operator_id)
                changed = True
            elif isinstance(action, engine.HandOff):
                if action.team_id and await _team(db, conv.workspace_id, action.team_id):
                    conv.team_id = action.team_id
                conv.status = "open"
                changed = True
            elif isinstance(action, engine.ResolveConversation):
                resolved = resolved or conv.status != "resolved"
                conv.status = "resolved"
                changed = True
            elif isinstance(action, engine.StartTimer):
                due = self.clock() + timedelta(minutes=action.minutes)
                flow_runs.add_timer(db, run.id, action.epoch, due)
        if changed:
            conv.updated_at = utcnow()
        return changed, resolved

    async def _assign(
        self, db: Any, conv: m.Conversation, team_id: str | None, operator_id: str | None
    ) -> None:
        """An operator by id, or the next online member of the team (round robin)."""
        if operator_id is not None:
            operator = await db.get(m.Operator, operator_id)
            if operator is not None and operator.workspace_id == conv.workspace_id:
                conv.assignee_id = operator_id
            return
        if team_id is None:
            return
        team = await _team(db, conv.workspace_id, team_id)
        if team is None:
            return
        conv.team_id = team.id
        members = sorted(
            await db.scalars(
                select(m.TeamMember.operator_id).where(m.TeamMember.team_id == team.id)
            )
        )
        online = await self.services.presence.who(conv.workspace_id)
        ready = [i for i in members if i in online]
        if not ready:
            return  # waits in the team's queue
        after = [i for i in ready if team.last_assigned_id is None or i > team.last_assigned_id]
        chosen = (after or ready)[0]
        conv.assignee_id = chosen
        team.last_assigned_id = chosen

    async def _carry_out(
        self, done: Committed, flow_id: str, conversation_id: str, key: str
    ) -> None:
        """What happens outside the database: bot messages, the operators' lines, the
        satisfaction survey after the bot's last words when the run resolved the
        conversation, then calls. The messages' ``client_id`` comes from the event, so a
        second carrying out (the worker's, after this process died) stores none twice;
        calls start only once the kept record is gone, so they are never made twice."""
        carry = done.carry
        if carry is None:
            return
        async with self.services.db() as db:
            conv = await db.get(m.Conversation, conversation_id)
            flow = await db.get(m.Flow, flow_id)
        if conv is not None:
            name = flow.name if flow is not None else "Bot"
            await self._tell_operators(conv, name, carry, key)
            said = 0
            for action in carry.actions:
                if isinstance(action, engine.Say):
                    await self.services.hub.accept(
                        _bot_message(conv, flow_id, name, action, _client_id(key, said))
                    )
                    said += 1
            if carry.resolved:
                await csat.survey(self.services, conversation_id, _client_id(f"{key}:csat", 0))
        await flow_runs.carried(self.services.engine, key)
        if conv is not None:
            self._call_out(done.run_id, conv, carry.actions)

    def _call_out(self, run_id: str, conv: m.Conversation, actions: list[engine.Action]) -> None:
        """The calls an advance asked for; each answer comes back as an event."""
        for action in actions:
            if isinstance(action, engine.CallHttp):
                self._spawn(self._call(run_id, conv.workspace_id, action))
            elif isinstance(action, engine.CallAi):
                self._spawn(self._ask_ai(run_id, conv.workspace_id, conv.id, action))
            elif isinstance(action, engine.FindSlots):
                self._spawn(self._find_slots(run_id, conv, action))
            elif isinstance(action, engine.BookSlot):
                self._spawn(self._book(run_id, conv, action))
            elif isinstance(action, engine.CancelBooking):
                self._spawn(self._cancel_booking(run_id, conv, action))

    async def _tell_operators(
        self, conv: m.Conversation, flow_name: str, carry: Carry, key: str
    ) -> None:
        """What the bot did, one system line per step in the thread (a private note:
        operators only, never the contact, never a channel): "asked for email", "saved
        contact.email", "handed off to Sales". A step that only sent is its message."""
        lines = [line for line in carry.log if line.outcome != "sent"]
        if not lines:
            return
        teams = {
            a.team_id for a in carry.actions if isinstance(a, engine.HandOff | engine.AssignTo)
        }
        names: dict[str, str] = {}
        async with self.services.db() as db:
            for team_id in teams - {None}:
                team = await _team(db, conv.workspace_id, str(team_id))
                if team is not None:
                    names[team.id] = team.name
            assignee = conv.assignee_id
            if any(isinstance(a, engine.AssignTo) for a in carry.actions):
                fresh = await db.get(m.Conversation, conv.id)
                assignee = fresh.assignee_id if fresh is not None else None
                operator = await db.get(m.Operator, assignee) if assignee else None
                if operator is not None:
                    names["operator"] = operator.name
        for n, line in enumerate(lines):
            text = f"{flow_name}: {_routed(line.outcome, carry.actions, names)}"
            await self.services.hub.accept(
                Inbound(
                    workspace_id=conv.workspace_id,
                    channel_id=conv.channel_id,
                    direction="out",
                    author=Author("system", None, "Bot"),
                    text=text[:1000],
                    conversation_id=conv.id,
                    client_id=_client_id(f"{key}:line", n),
                    private=True,
                )
            )

    async def _call(self, run_id: str, workspace_id: str, call: engine.CallHttp) -> None:
        """An ``http`` step's call, signed; its answer comes back as an event."""
        try:
            answer = await http_call(self.services, workspace_id, call)
            event = engine.HttpDone(call.epoch, True, answer)
        except HttpStepError as exc:
            event = engine.HttpDone(call.epoch, False, error=str(exc))
        await self._advance(run_id, event, f"http:{run_id}:{call.epoch}")

    async def _ask_ai(
        self, run_id: str, workspace_id: str, conversation_id: str, call: engine.CallAi
    ) -> None:
        """An AI step's call (web/ai_steps.py, which never raises for the provider's
        sake); its outcome comes back as an event."""
        place = ai_steps.Place(workspace_id, conversation_id, call.step_id)
        outcome = await ai_steps.run(self.services, place, call.step)
        event = engine.AiDone(
            call.epoch, outcome.next, tuple(outcome.saves.items()), outcome.say, outcome.note
        )
        await self._advance(run_id, event, f"ai:{run_id}:{call.epoch}")

    async def _find_slots(self, run_id: str, conv: m.Conversation, find: engine.FindSlots) -> None:
        """A ``book`` step's free slots (the next few); an error comes back as none. To
        reschedule, the contact must have a booking of the type ahead."""
        try:
            if find.action == "reschedule" and not await booking.next_booking(
                self.services,
                conv.workspace_id,
                conv.contact_id,
                find.booking_type_id,
                now=self.clock(),
            ):
                raise booking.BookingError(404, "no_booking", "there is no booking to move")
            offers = await booking.offer_slots(
                self.services,
                conv.workspace_id,
                find.booking_type_id,
                count=SLOTS_OFFERED,
                time_zone=find.time_zone,
                now=self.clock(),
            )
            event = engine.SlotsFound(
                find.epoch, tuple((rfc3339(o.start), o.label) for o in offers)
            )
        except booking.BookingError as exc:
            event = engine.SlotsFound(find.epoch, (), error=exc.detail)
        key = f"slots:{run_id}:{find.epoch}:{int(find.again)}"
        await self._advance(run_id, event, key)

    async def _book(self, run_id: str, conv: m.Conversation, slot: engine.BookSlot) -> None:
        """A ``book`` step's pick, booked with its provider event (``web/booking.py``), or
        the contact's next booking moved there (the event patched)."""
        try:
            if slot.action == "reschedule":
                await self._move(conv, slot)
            else:
                await booking.book(
                    self.services,
                    workspace_id=conv.workspace_id,
                    booking_type_id=slot.booking_type_id,
                    contact_id=conv.contact_id,
                    start=datetime.fromisoformat(slot.start),
                    conversation_id=conv.id,
                    now=self.clock(),
                )
            event = engine.Booked(slot.epoch, True)
        except booking.BookingError as exc:
            event = engine.Booked(slot.epoch, False, exc.code == "slot_taken", exc.detail)
        await self._advance(run_id, event, f"book:{run_id}:{slot.epoch}:{int(slot.again)}")

    async def _move(self, conv: m.Conversation, slot: engine.BookSlot) -> None:
        moving = await booking.next_booking(
            self.services,
            conv.workspace_id,
            conv.contact_id,
            slot.booking_type_id,
            now=self.clock(),
        )
        if moving is None:
            raise booking.BookingError(404, "no_booking", "there is no booking to move")
        await booking.reschedule(
            self.services,
            conv.workspace_id,
            moving.id,
            datetime.fromisoformat(slot.start),
            now=self.clock(),
        )

    async def _cancel_booking(
        self, run_id: str, conv: m.Conversation, cancel: engine.CancelBooking
    ) -> None:
        """A ``book`` step with ``action: cancel``: the contact's next booking of the type
        is cancelled and its provider event deleted; none comes back as not ok."""
        try:
            found = await booking.next_booking(
                self.services,
                conv.workspace_id,
                conv.contact_id,
                cancel.booking_type_id,
                now=self.clock(),
            )
            if found is None:
                raise booking.BookingError(404, "no_booking", "there is no booking to cancel")
            async with self.services.db() as db:
                bt = await db.get(m.BookingType, cancel.booking_type_id)
            zone = cancel.time_zone or (bt.hours["timezone"] if bt is not None else None)
            label = booking.slot_label(found.starts_at, zone)
            await booking.cancel(self.services, conv.workspace_id, found.id)
            event = engine.Booked(cancel.epoch, True, label=label)
        except booking.BookingError as exc:
            event = engine.Booked(cancel.epoch, False, error=exc.detail)
        await self._advance(run_id, event, f"cancel:{run_id}:{cancel.epoch}")

    # Reading the world ----------------------------------------------------------------

    async def _context(self, conversation_id: str) -> tuple[engine.Context, bool] | None:
        """What the run may read, and whether the contact may get anything automated."""
        async with self.services.db() as db:
            conv = await db.get(m.Conversation, conversation_id)
            if conv is None:
                return None
            contact = await db.get(m.Contact, conv.contact_id)
            channel = await db.get(m.Channel, conv.channel_id)
            workspace = await db.get(m.Workspace, conv.workspace_id)
        if contact is None or channel is None or workspace is None:
            return None
        ctx = engine.Context(
            contact={
                "name": contact.name,
                "email": contact.email,
                "phone": contact.phone,
                "attributes": dict(contact.attributes or {}),
            },
            now=self.clock(),
            hours=_hours(workspace.business_hours),
            may_send=window_open(channel.kind, conv.last_inbound_at, self.clock()),
        )
        return ctx, may_automate(contact)


class HttpStepError(Exception):
    """An ``http`` step's call failed; the message says why (shown in the run's history)."""


async def http_call(services: Services, workspace_id: str, call: engine.CallHttp) -> Any:
    """POST (or the step's method) the JSON body, signed with the workspace's flow secret;
    answers the decoded JSON. Only ``https://`` to public addresses, unless
    ``INVIARO_FLOW_HTTP_ALLOW_PRIVATE`` allows private and loopback ones (tests)."""
    parts = urlsplit(call.url)
    if parts.scheme != "https" or not parts.hostname:
        raise HttpStepError("the url is not https")
    if not services.settings.flow_http_allow_private:
        await _refuse_private(parts.hostname, parts.port or 443)
    body = orjson.dumps(call.body or {})
    key = flow_secret(services.settings.secret_key, workspace_id)
    signature = hmac.new(key, body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Inviaro-Signature": f"sha256={signature}"}
    try:
        response = await services.http.request(
            call.method,
            call.url,
            content=body if call.method != "GET" else None,
            headers=headers,
            timeout=HTTP_TIMEOUT_S,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        raise HttpStepError("timed out after 10 s") from None
    except httpx.HTTPError as exc:
        raise HttpStepError(f"could not connect ({type(exc).__name__})") from None
    if response.status_code >= 300:
        raise HttpStepError(f"answered {response.status_code}")
    if len(response.content) > MAX_HTTP_ANSWER:
        raise HttpStepError("the answer is too large")
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise HttpStepError("the answer is not JSON") from None


def flow_secret(secret_key: str, workspace_id: str) -> bytes:
    """The workspace's flow signing secret: derived from ``INVIARO_SECRET_KEY`` and the
    workspace id, so every process has it and nothing more is stored; the business reads
    it (hex) from ``GET /api/flows/secret`` and checks ``X-Inviaro-Signature`` with it as
    the HMAC key (the 32 bytes the hex spells)."""
    return hashlib.sha256(secret_key.encode() + b":flow:" + workspace_id.encode()).digest()


async def _refuse_private(host: str, port: int) -> None:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise HttpStepError("the host does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise HttpStepError("the host is a private or loopback address")


def _routed(note: str, actions: list[engine.Action], names: dict[str, str]) -> str:
    """A step's note, with the team (or operator) a hand-off or assignment went to."""
    if note == "handed off":
        for a in actions:
            if isinstance(a, engine.HandOff) and a.team_id in names:
                return f"handed off to {names[a.team_id]}"
    if note == "assigned":
        for a in actions:
            if isinstance(a, engine.AssignTo):
                who = names.get("operator") or (names.get(a.team_id) if a.team_id else None)
                if who:
                    return f"assigned to {who}"
    return note


def _bot_message(
    conv: m.Conversation, flow_id: str, flow_name: str, say: engine.Say, client_id: str
) -> Inbound:
    """A ``say``'s message from the flow's bot, queued for the conversation's channel."""
    payload: dict[str, Any] = {"flow_step": say.step}
    if say.options:
        payload["options"] = [{"label": lb, "value": v} for lb, v in say.options]
    if say.template is not None:
        template, language, parameters = say.template
        payload["template"] = {
            "name": template,
            "language": language,
            "parameters": list(parameters),
        }
    return Inbound(
        workspace_id=conv.workspace_id,
        channel_id=conv.channel_id,
        direction="out",
        author=Author("bot", flow_id, flow_name),
        text=say.text,
        conversation_id=conv.id,
        client_id=client_id,
        status="queued",
        payload=payload,
    )


def _client_id(key: str, n: int) -> str:
    """A bot message's idempotency key: the same event says the same things once."""
    return "fl:" + hashlib.sha256(f"{key}:{n}".encode()).hexdigest()[:40]


def _wire(state: engine.RunState) -> dict[str, Any]:
    """The state as the database gives it back (JSON values: a tuple is a list), so a
    stored state compares equal to the one it was read as."""
    return msgspec.json.decode(msgspec.json.encode(state))  # type: ignore[no-any-return]


def _hours(value: Any) -> BusinessHours | None:
    if not value:
        return None
    try:
        return parse_hours(value)
    except InvalidHours:
        return None


async def _workspace_of(db: Any, conversation_id: str) -> str:
    conv = await db.get(m.Conversation, conversation_id)
    return str(conv.workspace_id)


async def _team(db: Any, workspace_id: str, team_id: str) -> m.Team | None:
    team = await db.get(m.Team, team_id)
    return team if team is not None and team.workspace_id == workspace_id else None


async def _conversation_wire(db: Any, conversation_id: str) -> tuple[str, dict[str, Any]]:
    """(workspace id, the conversation's wire form) to tell operators of a change."""
    conv = await db.get(m.Conversation, conversation_id)
    channel = await db.get(m.Channel, conv.channel_id)
    contact = await db.get(m.Contact, conv.contact_id)
    return conv.workspace_id, conversation_to_wire(conv, channel, contact)


def install(services: Services) -> FlowRunner:
    runner = FlowRunner(services)
    services.hub.on_accepted.append(runner.accepted)
    services.hub.on_receipts.append(runner.receipts)
    services.flow_runner = runner
    return runner
