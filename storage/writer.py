"""The batching writer: every message of the process goes into the database through here.

It puts together the group-commit queue (:mod:`storage.group_commit`: many callers, one
transaction per batch), the transaction's reads and locks (here), the pure batch plan
(:mod:`storage.batch_plan`: duplicates, twins, ``seq``, outbox rows) and the SQL back end
of the database (:mod:`storage.writer_postgres`, :mod:`storage.writer_sqlite`).

Inside the transaction it asks what it must know first (erased provider messages, the
senders, the stored messages that share a key with the batch) and takes the conversation
rows' locks (Postgres ``FOR UPDATE``, all in one statement; SQLite's ``BEGIN IMMEDIATE`` is
already exclusive), finds or creates the contact and conversation, and writes what the
plan says, first contacts included. A caller's future resolves only after the commit.

Every wait is bounded (Postgres ``lock_timeout``, ``statement_timeout``, and
``idle_in_transaction_session_timeout`` so a frozen process's locks are let go): a
conversation held locked elsewhere fails only its own messages, a lost connection is
replaced and the batch retried once (idempotent on the message ids), a batch that fails
otherwise is retried one message at a time (counted: :attr:`BatchingWriter.one_by_one`),
and past ``max_backlog`` queued messages new ones are refused at once
(:class:`hub.store.Unavailable`).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.ids import new_id
from hub.model import Inbound, Message, utcnow
from hub.store import Gone, NotFound, Unavailable, WriteResult
from storage import faults, reserved
from storage.batch_plan import Counters, Key, Placement, Plan, client_key, plan
from storage.cleaning import cleaned
from storage.group_commit import GroupCommitQueue, Observe
from storage.serialize import conversation_to_wire, message_from_row
from storage.writer_postgres import PostgresWriterSql
from storage.writer_sql import (
    T_CONV,
    Found,
    Lookup,
    NewSender,
    WriterSql,
    provider_id_hash,
)
from storage.writer_sqlite import SqliteWriterSql

log = logging.getLogger("inviaro.writer")

LOCK_WAIT_S = 2.0  # longest wait for a conversation's row lock (or any lock) per batch
STUCK_RECHECK_S = 30.0  # a conversation found locked is not waited for again for this long


def writer_sql(engine: AsyncEngine) -> WriterSql:
    """The writer's SQL back end for the engine's database."""
    return PostgresWriterSql() if engine.dialect.name == "postgresql" else SqliteWriterSql()


@dataclass
class _Batch:
    """What one transaction learned, keyed for the items that need it."""

    conversations: dict[str, Row[Any] | _Fresh] = field(default_factory=dict)  # locked, by id
    fresh: dict[str, _Fresh] = field(default_factory=dict)  # added by this transaction, by id
    conv_of: dict[int, str] = field(default_factory=dict)  # item index -> conversation id
    placed: dict[int, Placement] = field(default_factory=dict)  # item index -> where, checked
    created: set[str] = field(default_factory=set)  # conversations created
    results: dict[int, WriteResult | Exception] = field(default_factory=dict)
    senders: list[NewSender] = field(default_factory=list)  # first contacts it adds
    now: datetime = field(default_factory=utcnow)  # its rows' time


class _Failed(Exception):
    """A transaction failed; ``state`` is how far it got (what it asked, the conversations
    it placed items in)."""

    def __init__(self, cause: Exception, state: _Batch) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.state = state


class BatchingWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 500,
        max_backlog: int = 10_000,
        lock_wait_s: float = LOCK_WAIT_S,
        observe: Observe | None = None,
        health: faults.StorageHealth | None = None,
    ) -> None:
        self._engine = engine
        self._lock_wait_s = lock_wait_s
        self.health = health or faults.StorageHealth()
        self._queue = GroupCommitQueue(
            self._outcomes, max_batch=max_batch, max_backlog=max_backlog, observe=observe
        )
        # Batches that failed as a whole and were retried one message at a time: a lost
        # race with another process, or one poisoned message; never on the normal path.
        # A plain count, exported by the web layer (``inviaro_writer_one_by_one``).
        self.one_by_one = 0
        # Conversations whose lock another session held past the wait, and since when:
        # taken only if free (SKIP LOCKED) for a while, so they hold up no other message.
        self._stuck: dict[str, float] = {}
        # One connection kept for the writer's life: no pool checkout, pre-ping and
        # reset per batch (about a tenth of a busy hub's CPU). Dropped on any error, and
        # replaced (the batch retried once) when it turns out dead.
        self._conn: AsyncConnection | None = None
        self._sql = writer_sql(engine)

    def start(self) -> None:
        self._queue.start()

    async def close(self) -> None:
        """Commit everything already queued, then stop. (Callers bound how long they wait:
        cancelling this cancels the commit in flight; its senders were never acknowledged.)"""
        try:
            await self._queue.close()
        finally:
            await self._drop_connection()

    @property
    def backlog(self) -> int:
        return self._queue.backlog

    def admits(self, count: int) -> bool:
        """Whether ``count`` more messages fit in the queue now (a door that takes many at
        once refuses them all rather than some)."""
        return self._queue.admits(count)

    def waiting_s(self) -> float:
        """How long the oldest message not yet committed has waited (0 when none)."""
        return self._queue.waiting_s()

    async def write(self, inbound: Inbound) -> WriteResult:
        return await self._queue.submit(cleaned(inbound))

    async def _connection(self) -> AsyncConnection:
        if self._sql.connection_dead():  # noticed dead meanwhile
            await self._drop_connection()
        if self._conn is None:
            self._conn = await self._sql.connect(self._engine, self._lock_wait_s)
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._sql.forget_connection()
        if conn is not None:
            try:
                await conn.invalidate()
                await conn.close()
            except Exception as exc:  # the connection is gone either way
                log.debug("writer connection close failed: %s", type(exc).__name__)

    async def _outcomes(
        self, items: list[Inbound], retried: bool = False
    ) -> list[WriteResult | Exception]:
        """Each item's result: all in one transaction when that works, else fewer at a time."""
        try:
            outcomes = await self._transaction(items)
        except _Failed as failed:
            exc, state = failed.cause, failed.state
        else:
            self.health.ok()
            return outcomes
        if faults.lock_timed_out(exc):
            held = await self._held_elsewhere(items, state)
            if held:
                # Someone holds their conversations (a frozen process?): fail only these
                # messages, and store the others now.
                return await self._except(items, held)
        if faults.is_outage(exc):
            self.health.failed(exc)
            return [_unavailable("storage is unavailable; retry later", exc) for _ in items]
        if faults.unique_violation(exc) and not retried:
            # A copy or a first contact's identity committed by another process meanwhile:
            # the retry finds and uses theirs.
            return await self._outcomes(items, retried=True)
        if len(items) > 1:
            # One poisoned item must not fail the rest: retry each message in a
            # transaction of its own.
            log.warning(
                "group commit of %d failed (%s); retrying one by one",
                len(items),
                type(exc).__name__,
            )
            self.one_by_one += 1
            return [r for item in items for r in await self._outcomes([item])]
        log.warning("write failed: %s", type(exc).__name__, exc_info=exc)
        return [exc]

    async def _except(self, items: list[Inbound], held: set[int]) -> list[WriteResult | Exception]:
        """Fail the ``held`` items (their conversation is locked elsewhere); store the rest."""
        rest = [n for n in range(len(items)) if n not in held]
        stored = await self._outcomes([items[n] for n in rest]) if rest else []
        out: list[WriteResult | Exception] = [
            _unavailable("the conversation is busy; retry later") for _ in items
        ]
        for n, outcome in zip(rest, stored, strict=True):
            out[n] = outcome
        return out

    async def _held_elsewhere(self, items: list[Inbound], state: _Batch) -> set[int]:
        """The items whose conversation another session holds locked right now (remembered
        as stuck). The failed transaction may have got no further than its lookup: an item
        it did not place goes by the conversation it names, or its sender's newest."""
        conv_of = {
            n: item.conversation_id
            for n, item in enumerate(items)
            if item.conversation_id is not None
        }
        conv_of.update(state.conv_of)
        senders = {
            n: (item.channel_id, item.contact_external_id)
            for n, item in enumerate(items)
            if n not in conv_of and item.contact_external_id
        }
        try:
            conn = await self._connection()
            if senders:
                found, _ = await self._contacts(conn, set(senders.values()))
                for n, key in senders.items():
                    conv_id = found[key].conversation_id if key in found else None
                    if conv_id is not None:
                        conv_of[n] = conv_id
            ids = sorted(set(conv_of.values()))
            locked = await self._sql.locked_elsewhere(conn, ids) if ids else set()
        except Exception as exc:
            await self._drop_connection()
            log.debug("could not tell which conversations are locked: %s", type(exc).__name__)
            return set()
        if locked:
            log.warning("%d conversation(s) held locked elsewhere past the wait", len(locked))
            self._stuck.update(dict.fromkeys(locked, time.monotonic()))
        return {n for n, conv_id in conv_of.items() if conv_id in locked}

    async def _transaction(self, items: list[Inbound]) -> list[WriteResult | Exception]:
        """Run the batch in one transaction; a dead kept connection is replaced and the batch
        retried once (the message ids make a retry after an unseen commit return the copies).
        Raises :class:`_Failed` with the state the failed transaction reached."""
        for attempt in (1, 2):
            reused = self._conn is not None
            state = _Batch()
            try:
                conn = await self._connection()
                async with self._sql.transaction(conn):
                    await self._steps(conn, items, state)
                break
            except Exception as exc:
                await self._drop_connection()
                dead = faults.connection_lost(exc) or faults.driver_gave_up(exc)
                if attempt == 1 and reused and dead:
                    log.info(
                        "the writer's connection was lost (%s); reconnecting", faults.describe(exc)
                    )
                    continue
                raise _Failed(exc, state) from exc
            except BaseException:
                await self._drop_connection()
                raise
        return [state.results[i] for i in range(len(items))]

    async def _steps(self, conn: AsyncConnection, items: list[Inbound], state: _Batch) -> None:
        """Everything one transaction does, each item's result left in ``state``.

        On Postgres that is three round trips before ``COMMIT`` (``BEGIN``, the lookup, the
        write), first contacts included; a few more only for a known contact's first
        conversation on a channel and a widget visitor's first message."""
        # Before the lookup locks conversations: a reserved one is there to be locked.
        await self._open_reservations(conn, items, state)
        found, locked = await self._look_up(conn, items, state)
        await self._resolve_conversations(conn, items, state, found)
        await self._lock_conversations(conn, items, state, found, locked)
        existing = _copies(found.copies)
        # Keys the lookup could not ask before the item's conversation was known: a provider
        # id whose conversation told its channel, a sender's client id.
        unsure = [
            n
            for n, where in state.placed.items()
            if where.conversation_id not in state.fresh
            and (
                (items[n].provider_message_id and where.channel_id != items[n].channel_id)
                or (items[n].client_id and items[n].conversation_id is None)
            )
        ]
        if unsure:
            existing = {**existing, **await self._earlier_copies(conn, items, state, unsure)}
        now = state.now
        counters = dict.fromkeys(state.fresh, _Fresh.counters)
        counters.update(
            (r.id, Counters(r.status, r.last_seq, r.read_seq, r.last_inbound_at))
            for r in state.conversations.values()
            if r.id not in state.fresh
        )
        # Only once the conversations are locked and checked: a copy in a conversation of
        # another workspace is never handed out.
        planned = plan(items, state.placed, counters, existing, now)
        queued = await self._sql.write_plan(conn, planned, state.senders, now)
        # A conversation created or reopened is told with the first of its new messages.
        changed = _changed_conversations(state, planned, now)
        for n, r in planned.results.items():
            conversation = changed.pop(r.message.conversation_id, None) if r.created else None
            could_move = r.created and r.message.id in queued
            state.results[n] = WriteResult(r.message, r.created, conversation, could_move)

    async def _look_up(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch
    ) -> tuple[Found, set[str]]:
        """What the batch needs to know first, asked in one go (:class:`Lookup`), and the
        conversations it locked; the items whose provider message was erased fail with
        :class:`Gone`.

        The earlier copies are read before the locks are granted, as a read needs none:
        should a copy be committed meanwhile, the unique indexes refuse the insert and the
        retry finds it."""
        erased: dict[int, str] = {}
        named: set[str] = set()
        senders: set[tuple[str, str]] = set()
        ids: set[str] = set()
        clients: set[tuple[str, str]] = set()
        providers: set[tuple[str, str]] = set()
        for n, item in enumerate(items):
            if n in s.results:
                continue
            ids.add(item.id)
            if item.provider_message_id:
                erased[n] = provider_id_hash(item.channel_id, item.provider_message_id)
                if item.channel_id:
                    providers.add((item.channel_id, item.provider_message_id))
            if item.conversation_id is not None:
                named.add(item.conversation_id)
                if item.client_id:
                    clients.add((item.conversation_id, item.client_id))
            elif item.contact_external_id:
                senders.add((item.channel_id, item.contact_external_id))
        lookup = Lookup(
            conversations=sorted(named),
            stuck=sorted(self._stuck_now()),
            senders=sorted(senders),
            channels=sorted({c for c, _ in senders}),
            erased=sorted(set(erased.values())),
            ids=sorted(ids),
            clients=sorted(clients),
            providers=sorted(providers),
        )
        found = await self._sql.look_up(conn, lookup)
        for n, digest in erased.items():
            if digest in found.erased:
                s.results[n] = Gone("this message was erased")
        return found, lookup.locked(found)

    async def _open_reservations(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch
    ) -> None:
        """Widget visitors' first messages: their contacts and conversations first."""
        firsts = {
            n: item
            for n, item in enumerate(items)
            if item.reservation is not None and n not in s.results
        }
        if not firsts:
            return
        created, refused = await reserved.open_reservations(conn, firsts)
        s.created |= created
        s.results.update(refused)

    async def _resolve_conversations(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch, looked_up: Found
    ) -> None:
        """Map each item to its conversation, creating contact and conversation on first
        contact. Races with other processes end in the unique (channel, external id) index.

        A known sender with a conversation costs nothing more: the lookup brought it, its
        channel (checked, and the contact locked, only when something has to be created)
        and its conversation's lock. A sender this transaction added comes with its
        conversation, in the same statement: nobody else sees either before the commit,
        so neither is locked nor looked up again."""
        wanted: dict[tuple[str, str], list[int]] = defaultdict(list)
        for n, item in enumerate(items):
            if n in s.results:
                continue
            if item.conversation_id is not None:
                s.conv_of[n] = item.conversation_id  # checked when its row is locked
            elif not item.contact_external_id:
                s.results[n] = NotFound("a message needs a conversation or a sender")
            else:
                wanted[(item.channel_id, item.contact_external_id)].append(n)
        if not wanted:
            return
        found: dict[tuple[str, str], _Sender] = dict(looked_up.senders)
        channels = looked_up.channels
        unknown = [key for key in wanted if key not in found]
        if unknown:
            found.update(self._new_senders(items, wanted, unknown, channels, s))
        for key, indices in list(wanted.items()):
            owner = found[key].workspace_id if key in found else None
            for n in indices:
                if n not in s.results and owner != items[n].workspace_id:  # another's channel
                    s.results[n] = NotFound("no such channel in this workspace")
            live = [n for n in indices if n not in s.results]
            if live:
                wanted[key] = live
            else:
                del wanted[key]
        bare = [k for k in wanted if found[k].conversation_id is None]
        if bare:
            # Serialise first-contact conversation creation for these contacts.
            await self._sql.lock_contacts(conn, sorted({found[key].contact_id for key in bare}))
            found.update((await self._contacts(conn, bare))[0])
        now = s.now
        new_convs: list[dict[str, Any]] = []
        for key, indices in wanted.items():
            conv_id = found[key].conversation_id
            if conv_id is None:
                conv_id = new_id("cv_")
                new_convs.append(
                    {
                        "id": conv_id,
                        "workspace_id": found[key].workspace_id,
                        "channel_id": key[0],
                        "contact_id": found[key].contact_id,
                        "status": "open",
                        "tags": [],
                        "last_seq": 0,
                        "read_seq": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                s.created.add(conv_id)
            for n in indices:
                s.conv_of[n] = conv_id
        if new_convs:
            await conn.execute(T_CONV.insert(), new_convs)

    async def _contacts(
        self, conn: AsyncConnection, keys: Iterable[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], _Sender], dict[str, Row[Any]]]:
        """(channel, sender) -> its identity row, with the newest conversation on that
        channel; and the senders' channels that exist, by id."""
        keys = list(keys)
        params = {**self._sql.pairs("keys", keys), "channel_ids": list({c for c, _ in keys})}
        found: dict[tuple[str, str], _Sender] = {}
        channels: dict[str, Row[Any]] = {}
        for r in await self._sql.rows(conn, self._sql.contacts, params):
            if r.external_id is None:
                channels[r.channel_id] = r
            else:
                found[(r.channel_id, r.external_id)] = r  # ascending: the newest wins
        return found, channels

    def _new_senders(
        self,
        items: list[Inbound],
        wanted: dict[tuple[str, str], list[int]],
        unknown: list[tuple[str, str]],
        channels: dict[str, Row[Any]],
        s: _Batch,
    ) -> dict[tuple[str, str], _Sender]:
        """First contact from these senders: check their channels (those found), then plan
        their contact, identity and conversation, added with the batch's rows
        (:meth:`WriterSql.write_plan`). Should another process add one of them meanwhile,
        the unique index fails the transaction, and the retry finds theirs."""
        mine: dict[tuple[str, str], _Sender] = {}
        for channel_id, external_id in unknown:
            indices = wanted[(channel_id, external_id)]
            channel = channels.get(channel_id)
            owner = None if channel is None else channel.workspace_id
            valid = [n for n in indices if owner == items[n].workspace_id]
            for n in indices:
                if n not in valid:
                    s.results[n] = NotFound("no such channel in this workspace")
            if not valid or channel is None:
                continue
            first = items[valid[0]]
            sender = NewSender(
                contact_id=new_id("ct_"),
                identity_id=new_id("ci_"),
                conversation_id=new_id("cv_"),
                workspace_id=first.workspace_id,
                channel_id=channel_id,
                external_id=external_id,
                name=first.contact_name,
            )
            s.senders.append(sender)
            mine[(channel_id, external_id)] = sender
            s.created.add(sender.conversation_id)
            # Nobody else sees it before the commit: neither locked nor read again.
            s.fresh[sender.conversation_id] = _Fresh(sender, channel, s.now)
        return mine

    async def _lock_conversations(
        self,
        conn: AsyncConnection,
        items: list[Inbound],
        s: _Batch,
        looked_up: Found,
        asked: set[str],
    ) -> None:
        """Lock what the lookup did not (a known contact's first conversation on the channel;
        those found locked elsewhere lately, only if free now), then check each item's
        conversation is its workspace's, on its channel."""
        rows: list[Row[Any] | _Fresh] = [*looked_up.conversations.values(), *s.fresh.values()]
        wanted = set(s.conv_of.values()) - s.fresh.keys()
        stuck = self._stuck_now()
        suspects = {i for i in wanted if i in stuck}
        waiting = sorted(wanted - asked - suspects)
        if waiting:
            rows += await self._sql.rows(conn, self._sql.lock_conversations, {"ids": waiting})
        if suspects:
            # After the ordered, waiting locks: a statement that never waits adds no deadlock.
            free = list(
                await self._sql.rows(conn, self._sql.lock_if_free, {"ids": sorted(suspects)})
            )
            for r in free:
                self._stuck.pop(r.id, None)
            rows += free
        s.conversations = {r.id: r for r in rows}
        for n, conv_id in list(s.conv_of.items()):
            conv = s.conversations.get(conv_id)
            item = items[n]
            if conv is None and conv_id in suspects:
                s.results[n] = Unavailable("the conversation is busy; retry later")
                del s.conv_of[n]
            elif conv is None or conv.workspace_id != item.workspace_id:
                s.results[n] = NotFound("no such conversation in this workspace")
                del s.conv_of[n]
            elif item.channel_id and conv.channel_id != item.channel_id:
                s.results[n] = NotFound("the conversation is on another channel")
                del s.conv_of[n]
            else:
                s.placed[n] = Placement(conv_id, conv.channel_id, conv.channel_kind)

    def _stuck_now(self) -> set[str]:
        """The conversations found locked elsewhere lately; forgotten once taken or after a
        while (then waited for again, for at most the lock wait)."""
        if self._stuck:
            now = time.monotonic()
            for conv_id, since in list(self._stuck.items()):
                if now - since > STUCK_RECHECK_S:
                    del self._stuck[conv_id]
        return set(self._stuck)

    async def _earlier_copies(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch, only: list[int]
    ) -> dict[Key, Message]:
        """Stored messages that share an idempotency key with the placed items ``only``."""
        by_client: list[tuple[str, str]] = []
        by_provider: list[tuple[str, str]] = []
        for n in only:
            client_id, provider_id = items[n].client_id, items[n].provider_message_id
            if client_id:
                by_client.append((s.conv_of[n], client_id))
            if provider_id:
                by_provider.append((s.placed[n].channel_id, provider_id))
        params = {
            "ids": [items[n].id for n in only],
            **self._sql.pairs("clients", by_client),
            **self._sql.pairs("providers", by_provider),
        }
        return _copies(await self._sql.rows(conn, self._sql.duplicates, params))


def _copies(rows: Iterable[Any]) -> dict[Key, Message]:
    """Stored messages by each idempotency key they hold (:func:`storage.batch_plan.keys_of`).
    A ``client_id`` is the author's own: the lookups find every author's (by the index on
    conversation and client id), the keys tell them apart."""
    existing: dict[Key, Message] = {}
    for row in rows:
        message = message_from_row(row)
        existing[("id", row.id)] = message
        if row.client_id:
            key = client_key(row.conversation_id, row.author_kind, row.author_id, row.client_id)
            existing[key] = message
        if row.provider_message_id:
            existing[("provider", row.channel_id, row.provider_message_id)] = message
    return existing


def _changed_conversations(s: _Batch, planned: Plan, now: datetime) -> dict[str, dict[str, Any]]:
    """The wire form of the conversations the batch created or reopened: their locked rows
    (which name channel and contact) with the counters the batch wrote."""
    counters = {c["b_id"]: c for c in planned.counters}
    last = {r.message.conversation_id: r.message for r in planned.results.values() if r.created}
    out = {}
    for conv_id in s.created | planned.reopened:
        row = s.conversations.get(conv_id)
        if row is None:  # none of its messages got as far as its lock: nothing to say
            continue
        new = counters.get(conv_id)
        conv = row if new is None else _Counted(row, new, now)
        out[conv_id] = conversation_to_wire(
            conv,
            _Named(row.channel_id, row.channel_kind, row.channel_name),
            _Named(row.contact_id, None, row.contact_name),
            last.get(conv_id),
        )
    return out


class _Counted:
    """A locked conversation row as the batch left it (its new counters)."""

    __slots__ = ("_row", "last_seq", "read_seq", "status", "updated_at")

    def __init__(self, row: Row[Any] | _Fresh, counters: dict[str, Any], now: datetime) -> None:
        self._row = row
        self.last_seq: int = counters["last_seq"]
        self.read_seq: int = counters["read_seq"]
        self.status: str = counters["status"]
        self.updated_at = now

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _unavailable(why: str, cause: BaseException | None = None) -> Unavailable:
    """One exception per caller (each raises it in its own task, with its own traceback)."""
    exc = Unavailable(why)
    exc.__cause__ = cause
    return exc


class _Sender(Protocol):
    """A sender's contact and its newest conversation on the channel (None: none yet)."""

    @property
    def contact_id(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def conversation_id(self) -> str | None: ...


class _Fresh:
    """A conversation this transaction added for a first-contact sender, as its locked row
    would read (:func:`storage.writer_sql.new_conversation`: open, counters at zero). A
    plain class: one is made per first contact, on the writer's hottest path."""

    status = "open"
    tags: list[str] | None = None  # none yet (the row holds [])
    last_seq = 0
    read_seq = 0
    assignee_id: str | None = None
    team_id: str | None = None
    last_message_at: datetime | None = None
    last_inbound_at: datetime | None = None
    snoozed_until: datetime | None = None
    counters = Counters(status, last_seq, read_seq, last_inbound_at)  # the same for each

    def __init__(self, sender: NewSender, channel: Row[Any], now: datetime) -> None:
        self.id = sender.conversation_id
        self.workspace_id = sender.workspace_id
        self.channel_id = sender.channel_id
        self.contact_id = sender.contact_id
        self.created_at = self.updated_at = now
        self.channel_kind: str = channel.channel_kind
        self.channel_name: str | None = channel.channel_name
        self.contact_name = sender.name


@dataclass(frozen=True, slots=True)
class _Named:
    """The id, kind and name of a channel or contact, all a conversation's wire form reads."""

    id: str
    kind: str | None
    name: str | None
