"""The one accept path, and what each socket's frames mean.

Every door calls :meth:`Hub.accept`: write durably, then ring the bus. The web layer's
WebSocket endpoint only pumps bytes into a :class:`hub.session.Session`.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub import frames
from hub.bus import Bus, BusUnavailable, OnMessage, OnReconnect, Publication
from hub.codec import encode_msgpack
from hub.fanout import (
    CLOSE_OVERLOADED,
    Connection,
    Framer,
    Registry,
    conversation_topic,
    operator_topic,
    workspace_topic,
)
from hub.model import Attachment, Author, Inbound, Message, Reservation
from hub.presence import Presence
from hub.store import MessageStore, Receipt, WriteResult

log = logging.getLogger(__name__)

REPLAY_PAGE = 500
REDELIVER_MARGIN = timedelta(seconds=10)
REDELIVER_PAGE = 500
# How long every socket a re-delivered page went to has to take it in before the next
# page; one that cannot is closed with 1013 and its client resumes.
REDELIVER_WAIT_S = 10.0
CLOSE_POLICY = 1008


@dataclass(frozen=True, slots=True)
class OperatorPrincipal:
    workspace_id: str
    operator_id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class VisitorPrincipal:
    workspace_id: str
    conversation_id: str
    channel_id: str
    contact_id: str
    name: str | None = None
    # Set while the visitor has not written yet: nothing of theirs is stored, and their
    # first message creates contact and conversation (hub.model.Reservation).
    reservation: Reservation | None = None


Principal = OperatorPrincipal | VisitorPrincipal
# (workspace id, a note's text) -> the ids of the workspace's operators it @mentions.
MentionResolver = Callable[[str, str], Awaitable[list[str]]]
# (workspace id, conversation id, media ids, private) -> those files as a message's
# attachments (a message that is not a private note shares them with the contact).
AttachmentResolver = Callable[[str, str, tuple[str, ...], bool], Awaitable[tuple[Attachment, ...]]]


def topics_of(msg: Message) -> tuple[str, ...]:
    """Where a message frame goes: the workspace's operators, and the conversation's
    visitor unless it is a private note."""
    workspace = workspace_topic(msg.workspace_id)
    if msg.private:
        return (workspace,)
    return workspace, conversation_topic(msg.workspace_id, msg.conversation_id)


# Asked before an operator's socket message goes out: ``(conversation_id, confirmed)`` in,
# None to allow it, or the sentence saying why not: its contact objected to being contacted
# and the operator did not confirm (an ``error`` frame ``contact_objected``).
ObjectionCheck = Callable[[str, bool], Awaitable[str | None]]
# A visitor about to write -> why they may not yet (no consent where it is asked), or None.
ConsentCheck = Callable[[VisitorPrincipal], Awaitable[str | None]]
# (stage, seconds) of one message's path the metrics break its latency into: "publish" (the
# bus round trip after the commit), "bus" (from the publish to this subscriber, wall clocks).
ObserveStage = Callable[[str, float], None]


# A bus payload from :meth:`Hub._publish` is stamped with its publish time, so every
# process can time its fan-out (publish to frames written): the byte 0xC1, which msgpack
# never uses, then the wall-clock time as a little-endian double, then the frame.
# Payloads without it (other publishers, an older process) are delivered as they are.
STAMP = b"\xc1"
_TIME = struct.Struct("<d")
_STAMPED = len(STAMP) + _TIME.size


def stamp(payload: bytes, now: float) -> bytes:
    return STAMP + _TIME.pack(now) + payload


def unstamp(payload: bytes) -> tuple[bytes, float | None]:
    """The frame and its publish time (None when it carries none)."""
    if payload[:1] == STAMP and len(payload) > _STAMPED:
        return payload[_STAMPED:], _TIME.unpack_from(payload, 1)[0]
    return payload, None


class Hub:
    """Accept, publish, replay; one per process. Holds no per-socket state."""

    def __init__(
        self,
        store: MessageStore,
        bus: Bus,
        registry: Registry,
        presence: Presence,
        *,
        heartbeat_s: int = 25,
        observe_accept: Callable[[float], None] | None = None,
        observe_stage: ObserveStage | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.registry = registry
        self.presence = presence
        self.heartbeat_s = heartbeat_s
        # Seconds from a message's arrival to durable and rung: what a sender waits for
        # its ack, the hub's own share of end-to-end latency (metrics, by the web layer).
        self._observe_accept = observe_accept
        self._observe_stage = observe_stage
        self._workspaces: Counter[str] = Counter()  # local sessions per workspace
        # Set by the web layer (web.processing); None allows every operator message.
        self.objection_check: ObjectionCheck | None = None
        # Set by the web layer (web.consent_gate); None lets every visitor write.
        self.consent_check: ConsentCheck | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._local_only: int | None = None  # publishes the bus refused in this outage
        # Told of every accepted message once it is durable and published (the flow runner
        # listens here); each must return at once and do its work in its own task.
        self.on_accepted: list[Callable[[WriteResult], None]] = []
        # Told of every delivery receipt published (the flow runner hears refused sends).
        self.on_receipts: list[Callable[[list[Receipt]], None]] = []
        # Set by the composition root: who a private note's @mentions name.
        self.resolve_mentions: MentionResolver | None = None
        # Set by the composition root: a send's media ids as attachments of that
        # conversation (raises LookupError for an id that is not a file of it).
        self.resolve_attachments: AttachmentResolver | None = None

    @classmethod
    def create(
        cls,
        store: MessageStore,
        presence: Presence,
        make_bus: Callable[[OnMessage, OnReconnect], Bus],
        *,
        queue_bound: int = 256,
        heartbeat_s: int = 25,
        observe_accept: Callable[[float], None] | None = None,
        observe_fanout: Callable[[float], None] | None = None,
        observe_stage: ObserveStage | None = None,
        framer: Framer | None = None,
    ) -> Hub:
        """Wire bus, registry and hub, whose callbacks point at each other."""
        hub: Hub | None = None

        def on_reconnect(since: datetime) -> None:
            if hub is not None:
                hub.on_bus_reconnect(since)

        registry: Registry | None = None

        def on_message(topic: str, payload: bytes) -> None:
            if registry is not None:
                frame, published_at = unstamp(payload)
                if published_at is not None and observe_stage is not None:
                    observe_stage("bus", max(0.0, time.time() - published_at))
                registry.deliver(topic, frame, published_at)

        bus = make_bus(on_message, on_reconnect)
        registry = Registry(bus, queue_bound, observe_fanout=observe_fanout, framer=framer)
        hub = cls(
            store,
            bus,
            registry,
            presence,
            heartbeat_s=heartbeat_s,
            observe_accept=observe_accept,
            observe_stage=observe_stage,
        )
        return hub

    async def accept(self, inbound: Inbound) -> WriteResult:
        """Store the message, then publish it. Returns once it is durable: ack then."""
        started = time.perf_counter()
        result = await self.store.write(inbound)
        msg = result.message
        # Republished even when an idempotency key matched: the first publish may have been
        # lost with its process, and clients merge by message id. All it rings goes out in
        # one bus round trip, in this order: its frame, a note's mentions, the conversation.
        publications: list[Publication] = [(encode_msgpack(frames.message(msg)), topics_of(msg))]
        if msg.private and result.created:
            publications += await self._mentions(msg)
        if result.conversation is not None:
            frame = frames.conversation(result.conversation)
            publications.append((encode_msgpack(frame), (workspace_topic(msg.workspace_id),)))
        published = time.perf_counter()
        await self._publish_all(publications)
        if self._observe_stage is not None:
            self._observe_stage("publish", time.perf_counter() - published)
        if self._observe_accept is not None:
            self._observe_accept(time.perf_counter() - started)
        for listener in self.on_accepted:
            try:
                listener(result)
            except Exception:
                log.exception("an on_accepted listener failed")
        return result

    async def _mentions(self, msg: Message) -> list[Publication]:
        """A ``mention`` frame to each operator the note names (not its author): one
        publication, to all their topics. A lookup that fails costs the mentions, never
        the note's delivery."""
        if self.resolve_mentions is None or "@" not in msg.text:
            return []
        try:
            named = await self.resolve_mentions(msg.workspace_id, msg.text)
        except Exception:
            log.exception("a note's mentions could not be resolved; it goes out without them")
            return []
        ws = msg.workspace_id
        topics = tuple(operator_topic(ws, o) for o in named if o != msg.author.id)
        return [(encode_msgpack(frames.mention(msg)), topics)] if topics else []

    async def publish_message(self, msg: Message) -> None:
        """A stored message changed (its files copied into the hub): its frame again, to
        whoever sees it; clients merge by id and take the new attachments."""
        await self._publish(encode_msgpack(frames.message(msg)), *topics_of(msg))

    async def publish_typing(
        self, workspace_id: str, conversation_id: str, author: Author, active: bool
    ) -> None:
        """Operators see everyone's typing; the visitor sees only operators'."""
        topics = [workspace_topic(workspace_id)]
        if author.kind != "contact":
            topics.append(conversation_topic(workspace_id, conversation_id))
        await self._publish(encode_msgpack(frames.typing(conversation_id, author, active)), *topics)

    async def publish_receipts(self, receipts: list[Receipt]) -> None:
        """Every receipt's frame to its workspace's operators, in order, in one go."""
        await self._publish_all(
            [
                (
                    encode_msgpack(
                        frames.receipt(r.conversation_id, r.message_id, r.status, r.delivery)
                    ),
                    (workspace_topic(r.workspace_id),),
                )
                for r in receipts
            ]
        )
        for listener in self.on_receipts:
            try:
                listener(receipts)
            except Exception:
                log.exception("an on_receipts listener failed")

    async def publish_conversation(self, workspace_id: str, conversation: dict[str, Any]) -> None:
        """A conversation changed (status, assignee, tags): tell the workspace's operators."""
        await self.publish_conversations([(workspace_id, conversation)])

    async def publish_conversations(self, changed: list[tuple[str, dict[str, Any]]]) -> None:
        """:meth:`publish_conversation` for each ``(workspace id, conversation)``, in order,
        in one go (one bus round trip however many)."""
        await self._publish_all(
            [(encode_msgpack(frames.conversation(c)), (workspace_topic(w),)) for w, c in changed]
        )

    async def publish_presence(self, workspace_id: str, operator_id: str, online: bool) -> None:
        await self._publish(
            encode_msgpack(frames.presence(operator_id, online)), workspace_topic(workspace_id)
        )

    async def _publish(self, payload: bytes, *topics: str) -> None:
        await self._publish_all([(payload, topics)])

    async def _publish_all(self, publications: list[Publication]) -> None:
        """Stamp and publish them in one bus call; when the bus refuses, deliver them
        locally, in order."""
        if not publications:
            return
        head = STAMP + _TIME.pack(time.time())  # one clock read: they go out together
        try:
            await self.bus.publish_many([(head + p, topics) for p, topics in publications])
        except BusUnavailable as err:
            # Durable already; other processes' clients heal by resume or on_reconnect.
            # Said once per outage, however many messages it lasts.
            if self._local_only is None:
                self._local_only = 0
                log.warning("bus unavailable, delivering locally only until it is back: %s", err)
            self._local_only += len(publications)
            for payload, topics in publications:
                for topic in topics:
                    self.registry.deliver(topic, payload)
            return
        if self._local_only is not None:
            log.warning(
                "bus is back; %d publishes were delivered locally only meanwhile",
                self._local_only,
            )
            self._local_only = None

    async def replay_pages(
        self,
        workspace_id: str,
        conversation_id: str,
        after_seq: int,
        *,
        include_private: bool = True,
    ) -> AsyncIterator[list[Message]]:
        """Messages after ``after_seq`` in pages of 500, in order, until there are no more;
        without private notes for a visitor (``include_private=False``).

        Raises :class:`hub.store.NotFound` for another workspace's conversation.
        """
        while True:
            page = await self.store.replay(
                workspace_id, conversation_id, after_seq, REPLAY_PAGE, include_private
            )
            if page:
                yield page
                after_seq = page[-1].seq
            if len(page) < REPLAY_PAGE:
                return

    def on_bus_reconnect(self, since: datetime) -> None:
        """Bus handler: after an outage, re-deliver from the database what may be missing.

        A message is stamped before its commit and published after it, and hub hosts'
        clocks differ a little: re-deliver from a margin before the outage was noticed.
        Duplicates are harmless; clients merge by message id."""
        since -= REDELIVER_MARGIN
        task = asyncio.get_running_loop().create_task(self._redeliver(since))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _redeliver(self, since: datetime) -> None:
        """Page through everything stored since ``since`` in the local workspaces, feeding
        each page to the sockets' writers (they pull it as they drain, behind live frames)
        and waiting for them to take it before the next page. All of it, however much."""
        workspaces = [ws for ws, n in self._workspaces.items() if n > 0]
        if not workspaces:
            return
        total = 0
        after: Message | None = None
        try:
            while True:
                page = await self.store.messages_since(workspaces, since, REDELIVER_PAGE, after)
                fed: set[Connection] = set()
                for msg in page:
                    payload = encode_msgpack(frames.message(msg))
                    for topic in topics_of(msg):
                        fed.update(self.registry.redeliver(topic, payload))
                total += len(page)
                if len(page) < REDELIVER_PAGE:
                    break
                after = page[-1]
                await self.registry.catch_up(fed, REDELIVER_WAIT_S)
        except Exception:
            # Never silently partial: the operators' sockets are told to resume.
            log.exception("re-delivery after a bus outage failed; closing sockets to resume")
            for workspace_id in workspaces:
                self.registry.close_topic(workspace_topic(workspace_id), CLOSE_OVERLOADED)
            return
        log.info("re-delivered %d messages after a bus outage", total)

    async def heartbeat(self) -> None:
        """Call every ``heartbeat_s``: keeps presence alive, announces operators that expired."""
        try:
            gone = await self.presence.refresh()
        except BusUnavailable as err:
            log.warning("presence refresh failed: %s", err)
            return
        await self._publish_all(
            [
                (encode_msgpack(frames.presence(op, False)), (workspace_topic(ws),))
                for ws, op in gone
            ]
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    def track_workspace(self, workspace_id: str) -> None:
        """A local session of this workspace opened (re-delivery covers its workspace)."""
        self._workspaces[workspace_id] += 1

    def untrack_workspace(self, workspace_id: str) -> None:
        self._workspaces[workspace_id] -= 1
        if self._workspaces[workspace_id] <= 0:
            del self._workspaces[workspace_id]
