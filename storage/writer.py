"""The batching writer: every message of the process goes into the database through here.

Callers ``await write(inbound)``; one task drains whatever queued up meanwhile and commits it
in ONE transaction (group commit), so no handler waits on the database one message at a
time and the commit cost is shared. Inside the transaction it finds or creates the contact
and conversation, takes the conversation rows' locks (Postgres ``FOR UPDATE``; SQLite's
``BEGIN IMMEDIATE`` is already exclusive), drops duplicates by message id, ``client_id`` and
provider message id, gives each new message the next ``seq`` of its conversation, and
queues outbound sends in the outbox. A caller's future resolves only after the commit.

Every wait is bounded (Postgres ``lock_timeout``, ``statement_timeout``, and
``idle_in_transaction_session_timeout`` so a frozen process's locks are let go): a
conversation held locked elsewhere fails only its own messages, a lost connection is
replaced and the batch retried once (idempotent on the message ids), and past
``max_backlog`` queued messages new ones are refused at once (:class:`hub.store.Unavailable`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    Select,
    String,
    TextClause,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement

from hub.ids import new_id
from hub.model import Inbound, Message, utcnow
from hub.store import Gone, NotFound, Unavailable, WriteResult
from storage import faults, reserved
from storage import models as m
from storage.dialect import dialect_insert
from storage.serialize import conversation_to_wire, message_from_row

log = logging.getLogger("inviaro.writer")

# Replies on these channels leave through the outbox and a provider's API.
EXTERNAL_KINDS = frozenset({"whatsapp", "messenger", "instagram", "viber"})

Observe = Callable[[int, float], None]
NAME_CHARS = 200  # contact and author names are kept in 200 characters
LOCK_WAIT_S = 2.0  # longest wait for a conversation's row lock (or any lock) per batch
STATEMENT_S = 10.0  # longest a writer statement may run
IDLE_IN_TRANSACTION_S = 10.0  # a writer frozen mid-transaction loses its locks after this
STUCK_RECHECK_S = 30.0  # a conversation found locked is not waited for again for this long

T_MSG = m.Message.__table__
T_CONV = m.Conversation.__table__
T_CONTACT = m.Contact.__table__
T_IDENT = m.ContactIdentity.__table__
T_CHANNEL = m.Channel.__table__
T_OUTBOX = m.OutboxItem.__table__
T_ERASED = m.ErasedProviderMessage.__table__


def _clean(value: str | None) -> str | None:
    """Postgres text cannot hold NUL; a provider may send one. Replace it, consistently, so
    ids still deduplicate and nothing is refused."""
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


def _name(value: str | None) -> str | None:
    return _clean(value[:NAME_CHARS] if value and len(value) > NAME_CHARS else value)


def _cleaned(item: Inbound) -> Inbound:
    """The item as the database can hold it: no NUL, names cut to their column."""
    fields = (
        item.text,
        item.contact_external_id,
        item.contact_name,
        item.client_id,
        item.provider_message_id,
        item.author.id,
        item.author.name,
    )
    long_name = any(n and len(n) > NAME_CHARS for n in (item.contact_name, item.author.name))
    if not long_name and not item.attachments and not any(f and "\x00" in f for f in fields):
        return item
    return replace(
        item,
        text=_clean(item.text) or "",
        contact_external_id=_clean(item.contact_external_id),
        contact_name=_name(item.contact_name),
        client_id=_clean(item.client_id),
        provider_message_id=_clean(item.provider_message_id),
        author=replace(item.author, id=_clean(item.author.id), name=_name(item.author.name)),
        attachments=tuple(
            replace(
                a,
                url=_clean(a.url),
                mime=_clean(a.mime),
                name=_clean(a.name),
                provider_media_id=_clean(a.provider_media_id),
            )
            for a in item.attachments
        ),
    )


def provider_id_hash(channel_id: str, provider_message_id: str) -> str:
    return hashlib.sha256(f"{channel_id}\x00{provider_message_id}".encode()).hexdigest()


_MESSAGE_ARRAYS = {  # column -> element type, bound as arrays and joined by unnest
    "id": String,
    "workspace_id": String,
    "conversation_id": String,
    "channel_id": String,
    "seq": Integer,
    "direction": String,
    "author_kind": String,
    "author_id": String,
    "author_name": String,
    "text": String,
    "attachments": String,
    "status": String,
    "client_id": String,
    "provider_message_id": String,
    "payload": String,
    "private": Boolean,
}
_JSON_COLUMNS = {"attachments", "payload"}  # bound as JSON text, cast back in the SQL
_COUNTER_ARRAYS = {  # named as in the rows of update_conversations
    "b_id": String,
    "last_seq": Integer,
    "status": String,
    "read_seq": Integer,
    "last_inbound_at": DateTime(timezone=True),
}


def _insert_and_count() -> TextClause:
    columns = ", ".join(_MESSAGE_ARRAYS)
    values = ", ".join(f"{c}::json" if c in _JSON_COLUMNS else c for c in _MESSAGE_ARRAYS)
    arrays = ", ".join(f":m_{c}" for c in _MESSAGE_ARRAYS)
    counters = ", ".join(f":c_{c}" for c in _COUNTER_ARRAYS)
    sql = f"""
        WITH inserted AS (
            INSERT INTO messages ({columns}, error, created_at)
            SELECT {values}, NULL, :now FROM unnest({arrays}) AS m({columns})
        )
        UPDATE conversations AS c SET last_seq = u.last_seq, status = u.status,
            read_seq = u.read_seq, last_message_at = :now, updated_at = :now,
            last_inbound_at = u.last_inbound_at
        FROM unnest({counters}) AS u({", ".join(_COUNTER_ARRAYS)})
        WHERE c.id = u.b_id
    """
    binds = [bindparam(f"m_{c}", type_=ARRAY(t)) for c, t in _MESSAGE_ARRAYS.items()]
    binds += [bindparam(f"c_{c}", type_=ARRAY(t)) for c, t in _COUNTER_ARRAYS.items()]
    return text(sql).bindparams(*binds, bindparam("now", type_=DateTime(timezone=True)))


def _as_arrays(
    rows: list[dict[str, Any]], counters: list[dict[str, Any]], now: Any
) -> dict[str, Any]:
    """The parameters of :func:`_insert_and_count`: one list per column."""
    params: dict[str, Any] = {"now": now}
    for c in _MESSAGE_ARRAYS:
        column = [r[c] for r in rows]
        if c in _JSON_COLUMNS:
            column = [None if v is None else json.dumps(v) for v in column]
        params[f"m_{c}"] = column
    for c in _COUNTER_ARRAYS:
        params[f"c_{c}"] = [u[c] for u in counters]
    return params


class _Sql:
    """The writer's statements, built once per dialect.

    Lists are bound as one parameter: a Postgres array (joined through ``unnest``) or
    SQLite's expanding ``IN``. On Postgres the SQL text is then the same for every batch
    size, so the driver's prepared statements are reused instead of parsed and planned per
    batch."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        identity = T_IDENT.outerjoin(
            T_CONV,
            and_(
                T_CONV.c.contact_id == T_IDENT.c.contact_id,
                T_CONV.c.channel_id == T_IDENT.c.channel_id,
            ),
        )
        # (channel, sender) -> contact and its conversations on that channel, oldest first
        self.contacts = self._with_pairs(
            select(
                T_IDENT.c.channel_id,
                T_IDENT.c.external_id,
                T_IDENT.c.contact_id,
                T_IDENT.c.workspace_id,
                T_CONV.c.id.label("conversation_id"),
            ).select_from(identity),
            T_IDENT.c.channel_id,
            T_IDENT.c.external_id,
            "keys",
        ).order_by(T_CONV.c.created_at)
        self.channels = select(T_CHANNEL.c.id, T_CHANNEL.c.workspace_id).where(
            self._among(T_CHANNEL.c.id, "ids")
        )
        lock_contacts = select(T_CONTACT.c.id).where(self._among(T_CONTACT.c.id, "ids"))
        self.lock_contacts = lock_contacts.order_by(T_CONTACT.c.id).with_for_update()
        self.delete_contacts = T_CONTACT.delete().where(self._among(T_CONTACT.c.id, "ids"))
        lock = (
            select(T_CONV, T_CHANNEL.c.kind.label("channel_kind"))
            .join(T_CHANNEL, T_CHANNEL.c.id == T_CONV.c.channel_id)
            .where(self._among(T_CONV.c.id, "ids"))
            .order_by(T_CONV.c.id)
        )
        # Ordered row locks: two processes locking overlapping sets never deadlock.
        self.lock_conversations = lock.with_for_update(of=T_CONV) if postgres else lock
        # Conversations found locked past the wait are taken only if free now: never waits.
        self.lock_if_free = lock.with_for_update(of=T_CONV, skip_locked=True)
        self.existing_conversations = select(T_CONV.c.id).where(self._among(T_CONV.c.id, "ids"))
        self.erased = select(T_ERASED.c.id_hash).where(self._among(T_ERASED.c.id_hash, "ids"))
        by_id = select(T_MSG).where(self._among(T_MSG.c.id, "ids"))
        by_client = (T_MSG.c.conversation_id, T_MSG.c.client_id, "clients")
        by_provider = (T_MSG.c.channel_id, T_MSG.c.provider_message_id, "providers")
        if postgres:  # three index lookups; an OR of them would scan the table
            self.duplicates: Any = union_all(
                by_id,
                self._with_pairs(select(T_MSG), *by_client),
                self._with_pairs(select(T_MSG), *by_provider),
            )
        else:
            self.duplicates = select(T_MSG).where(
                or_(
                    self._among(T_MSG.c.id, "ids"),
                    tuple_(*by_client[:2]).in_(bindparam("clients", expanding=True)),
                    tuple_(*by_provider[:2]).in_(bindparam("providers", expanding=True)),
                )
            )
        self.changed = (
            select(
                T_CONV,
                T_CHANNEL.c.kind,
                T_CHANNEL.c.name.label("channel_name"),
                T_CONTACT.c.name.label("contact_name"),
            )
            .join(T_CHANNEL, T_CHANNEL.c.id == T_CONV.c.channel_id)
            .join(T_CONTACT, T_CONTACT.c.id == T_CONV.c.contact_id)
            .where(self._among(T_CONV.c.id, "ids"))
        )
        self.update_conversations = (
            update(T_CONV)
            .where(T_CONV.c.id == bindparam("b_id"))
            .values(
                last_seq=bindparam("last_seq"),
                status=bindparam("status"),
                read_seq=bindparam("read_seq"),
                last_message_at=bindparam("last_message_at"),
                updated_at=bindparam("updated_at"),
                last_inbound_at=bindparam("last_inbound_at"),
            )
        )

        # Postgres: the batch's messages and its conversations' new counters in one
        # statement, one round trip, every column bound as one array.
        self.insert_and_count: TextClause | None = _insert_and_count() if postgres else None

    def _among(self, column: Any, name: str) -> ColumnElement[bool]:
        if self.postgres:
            return column.in_(select(func.unnest(bindparam(name, type_=ARRAY(String())))))
        return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]

    def _with_pairs(self, query: Select[Any], a: Any, b: Any, name: str) -> Select[Any]:
        """``query`` limited to rows whose ``(a, b)`` is one of the pairs bound as ``name``."""
        if self.postgres:
            keys = (
                func.unnest(
                    bindparam(f"{name}_a", type_=ARRAY(String())),
                    bindparam(f"{name}_b", type_=ARRAY(String())),
                )
                .table_valued("a", "b")
                .render_derived(name=name)
            )
            return query.join(keys, and_(a == keys.c.a, b == keys.c.b))
        return query.where(tuple_(a, b).in_(bindparam(name, expanding=True)))

    def pairs(self, name: str, values: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Parameters for the pairs :meth:`_with_pairs` bound as ``name``."""
        values = list(values)
        if self.postgres:
            return {f"{name}_a": [a for a, _ in values], f"{name}_b": [b for _, b in values]}
        return {name: values}


@dataclass
class _Pending:
    inbound: Inbound
    future: asyncio.Future[WriteResult]
    at: float  # time.monotonic() when it was queued


@dataclass
class _Batch:
    """What one transaction learned, keyed for the items that need it."""

    kinds: dict[str, str] = field(default_factory=dict)  # channel id -> kind
    conversations: dict[str, Any] = field(default_factory=dict)
    conv_of: dict[int, str] = field(default_factory=dict)  # item index -> conversation id
    channel_of: dict[int, str] = field(default_factory=dict)  # item index -> channel id
    changed: set[str] = field(default_factory=set)  # conversations created or reopened
    results: dict[int, WriteResult | Exception] = field(default_factory=dict)


class _Failed(Exception):
    """A transaction failed; ``state`` is how far it got (the conversations it wanted)."""

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
        self._max_batch = max_batch
        self._max_backlog = max_backlog
        self._lock_wait_s = lock_wait_s
        self._observe = observe
        self.health = health or faults.StorageHealth()
        self._queue: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._full = False  # refusing new messages (said once, until the queue drains)
        self._committing_since: float | None = None  # queued time of the batch in flight
        # Conversations whose lock another session held past the wait, and since when:
        # taken only if free (SKIP LOCKED) for a while, so they hold up no other message.
        self._stuck: dict[str, float] = {}
        # One connection kept for the writer's life: no pool checkout, pre-ping and
        # reset per batch (about a tenth of a busy hub's CPU). Dropped on any error, and
        # replaced (the batch retried once) when it turns out dead.
        self._conn: AsyncConnection | None = None
        self._raw: Any = None  # Postgres: the asyncpg connection under it, for BEGIN/COMMIT
        self._sql = _Sql(postgres=engine.dialect.name == "postgresql")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inviaro-writer")

    async def close(self) -> None:
        """Commit everything already queued, then stop. (Callers bound how long they wait:
        cancelling this cancels the commit in flight; its senders were never acknowledged.)"""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._drop_connection()

    async def _connection(self) -> AsyncConnection:
        if self._raw is not None and self._raw.is_closed():  # noticed dead meanwhile
            await self._drop_connection()
        if self._conn is None:
            conn = await self._engine.connect()
            if self._sql.postgres:
                # Transactions are begun and ended by hand (see _transaction).
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                self._raw = (await conn.get_raw_connection()).driver_connection
                # Plan each statement once, for any batch size: every one finds its rows by
                # key through an index, which a plan made for one array size may not. (This
                # connection never returns to the pool: it is invalidated when dropped.)
                # Bound every wait: a lock held by a frozen process, a stalled statement.
                await self._raw.execute(
                    "SET plan_cache_mode = force_generic_plan;"
                    f" SET lock_timeout = {int(self._lock_wait_s * 1000)};"
                    f" SET statement_timeout = {int(STATEMENT_S * 1000)};"
                    " SET idle_in_transaction_session_timeout ="
                    f" {int(IDLE_IN_TRANSACTION_S * 1000)}"
                )
            self._conn = conn
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn, self._raw = self._conn, None, None
        if conn is not None:
            try:
                await conn.invalidate()
                await conn.close()
            except Exception as exc:  # the connection is gone either way
                log.debug("writer connection close failed: %s", type(exc).__name__)

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def admits(self, count: int) -> bool:
        """Whether ``count`` more messages fit in the queue now (a door that takes many at
        once refuses them all rather than some)."""
        return len(self._queue) + count <= self._max_backlog

    def waiting_s(self) -> float:
        """How long the oldest message not yet committed has waited (0 when none)."""
        since = self._committing_since
        if since is None and self._queue:
            since = self._queue[0].at
        return 0.0 if since is None else time.monotonic() - since

    async def write(self, inbound: Inbound) -> WriteResult:
        if self._closing:
            raise Unavailable("the writer is closing; retry on another process")
        if not self.admits(1):
            if not self._full:
                self._full = True
                log.warning(
                    "%d messages wait for the database: refusing more until they are stored",
                    len(self._queue),
                )
            raise Unavailable("too many messages are waiting to be stored; retry later")
        self.start()
        future: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(_cleaned(inbound), future, time.monotonic()))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))
                ]
                self._committing_since = batch[0].at
                try:
                    await self._commit(batch)
                finally:
                    self._committing_since = None
                if self._full and len(self._queue) <= self._max_backlog // 2:
                    self._full = False
                    log.warning("the writer's queue drained: accepting messages again")
            if self._closing:
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        outcomes = await self._outcomes([p.inbound for p in batch])
        if self._observe is not None:
            self._observe(len(batch), time.perf_counter() - started)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if isinstance(outcome, Exception):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)

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
        if faults.lock_timed_out(exc) and self._sql.postgres:
            locked = await self._locked_conversations(set(state.conv_of.values()))
            if locked:
                # Someone holds these conversations (a frozen process?): fail only their
                # messages, and store the others now.
                now = time.monotonic()
                self._stuck.update(dict.fromkeys(locked, now))
                log.warning("%d conversation(s) held locked elsewhere past the wait", len(locked))
                return await self._except(
                    items, {n for n, c in state.conv_of.items() if c in locked}
                )
        if faults.is_outage(exc):
            self.health.failed(exc)
            return [_unavailable("storage is unavailable; retry later", exc) for _ in items]
        if len(items) > 1:
            # One poisoned item (or a race lost to another process) must not fail the
            # rest: retry each message in a transaction of its own.
            log.warning(
                "group commit of %d failed (%s); retrying one by one",
                len(items),
                type(exc).__name__,
            )
            return [r for item in items for r in await self._outcomes([item])]
        if faults.unique_violation(exc) and not retried:
            # A copy committed by another process meanwhile: the retry finds and returns it.
            return await self._outcomes(items, retried=True)
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

    async def _locked_conversations(self, ids: set[str]) -> set[str]:
        """Those of ``ids`` that exist and that another session holds locked right now."""
        if not ids:
            return set()
        params = {"ids": sorted(ids)}
        try:
            conn = await self._connection()
            await self._raw.execute("BEGIN")
            exist = {r.id for r in await conn.execute(self._sql.existing_conversations, params)}
            free = {r.id for r in await conn.execute(self._sql.lock_if_free, params)}
            await self._raw.execute("ROLLBACK")
        except Exception as exc:
            await self._drop_connection()
            log.debug("could not tell which conversations are locked: %s", type(exc).__name__)
            return set()
        return exist - free

    async def _transaction(self, items: list[Inbound]) -> list[WriteResult | Exception]:
        """Run the batch in one transaction; a dead kept connection is replaced and the batch
        retried once (the message ids make a retry after an unseen commit return the copies).
        Raises :class:`_Failed` with the state the failed transaction reached."""
        for attempt in (1, 2):
            reused = self._conn is not None
            state = _Batch()
            try:
                changed = await self._attempt(items, state)
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
        for i, conv_id in state.conv_of.items():
            result = state.results.get(i)
            if isinstance(result, WriteResult) and result.created and conv_id in changed:
                state.results[i] = WriteResult(result.message, True, changed.pop(conv_id))
        return [state.results[i] for i in range(len(items))]

    async def _attempt(self, items: list[Inbound], state: _Batch) -> dict[str, dict[str, Any]]:
        conn = await self._connection()
        if self._raw is not None:
            # Postgres, by hand: BEGIN and COMMIT as simple queries, no transaction left
            # open between batches (an open one would show as idle in transaction).
            await self._raw.execute("BEGIN")
            changed = await self._steps(conn, items, state)
            await self._raw.execute("COMMIT")
            return changed
        async with conn.begin():
            return await self._steps(conn, items, state)

    async def _steps(
        self, conn: AsyncConnection, items: list[Inbound], state: _Batch
    ) -> dict[str, dict[str, Any]]:
        """Everything one transaction does; returns the conversations it changed."""
        await self._drop_erased(conn, items, state)
        await self._open_reservations(conn, items, state)
        await self._resolve_conversations(conn, items, state)
        # Look for earlier copies before taking the row locks the other processes'
        # transactions wait on: a read needs no lock, and should a copy be committed
        # meanwhile, the unique indexes refuse the insert and the retry finds it.
        existing = await self._earlier_copies(conn, items, state)
        await self._lock_conversations(conn, items, state)
        fresh = await self._deduplicate(conn, items, state, existing)
        await self._insert(conn, items, fresh, state)
        return await self._changed_conversations(conn, state)

    async def _drop_erased(self, conn: AsyncConnection, items: list[Inbound], s: _Batch) -> None:
        keyed = {
            n: provider_id_hash(item.channel_id, item.provider_message_id)
            for n, item in enumerate(items)
            if item.provider_message_id and n not in s.results
        }
        if not keyed:
            return
        rows = await conn.execute(self._sql.erased, {"ids": list(set(keyed.values()))})
        erased = {r.id_hash for r in rows}
        for n, digest in keyed.items():
            if digest in erased:
                s.results[n] = Gone("this message was erased")

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
        s.changed |= created
        s.results.update(refused)

    async def _resolve_conversations(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch
    ) -> None:
        """Map each item to its conversation, creating contact and conversation on first
        contact. Races with other processes end in the unique (channel, external id) index.

        A known sender with a conversation costs one query; the channel is checked, and the
        contact locked, only when something has to be created."""
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
        found = await self._contacts(conn, wanted)
        unknown = [key for key in wanted if key not in found]
        if unknown:
            created = await self._create_contacts(conn, items, wanted, unknown, s)
            found = await self._contacts(conn, wanted)
            winners = {r.contact_id for r in found.values()}
            losers = [c for c in created if c not in winners]
            if losers:
                await conn.execute(self._sql.delete_contacts, {"ids": losers})
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
        if any(found[key].conversation_id is None for key in wanted):
            if self._sql.postgres:
                # Serialise first-contact conversation creation for these contacts.
                ids = sorted({found[key].contact_id for key in wanted})
                await conn.execute(self._sql.lock_contacts, {"ids": ids})
            found = await self._contacts(conn, wanted)
        now = utcnow()
        new_convs = []
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
                s.changed.add(conv_id)
            for n in indices:
                s.conv_of[n] = conv_id
        if new_convs:
            await conn.execute(T_CONV.insert(), new_convs)

    async def _contacts(
        self, conn: AsyncConnection, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Any]:
        """(channel, sender) -> its identity row, with the newest conversation on that channel."""
        rows = await conn.execute(self._sql.contacts, self._sql.pairs("keys", keys))
        return {(r.channel_id, r.external_id): r for r in rows}  # ascending: the newest wins

    async def _create_contacts(
        self,
        conn: AsyncConnection,
        items: list[Inbound],
        wanted: dict[tuple[str, str], list[int]],
        unknown: list[tuple[str, str]],
        s: _Batch,
    ) -> list[str]:
        """First contact from these senders: check their channels, then add contact and
        identity. Returns the new contacts' ids (another process may have won an identity:
        the caller drops the contacts that lost)."""
        rows = await conn.execute(self._sql.channels, {"ids": list({c for c, _ in unknown})})
        owner = {r.id: r.workspace_id for r in rows}
        now = utcnow()
        new_contacts = []
        new_identities = []
        for channel_id, external_id in unknown:
            indices = wanted[(channel_id, external_id)]
            valid = [n for n in indices if owner.get(channel_id) == items[n].workspace_id]
            for n in indices:
                if n not in valid:
                    s.results[n] = NotFound("no such channel in this workspace")
            if not valid:
                continue
            first = items[valid[0]]
            contact_id = new_id("ct_")
            new_contacts.append(
                {
                    "id": contact_id,
                    "workspace_id": first.workspace_id,
                    "name": first.contact_name,
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            new_identities.append(
                {
                    "id": new_id("ci_"),
                    "workspace_id": first.workspace_id,
                    "channel_id": channel_id,
                    "contact_id": contact_id,
                    "external_id": external_id,
                    "created_at": now,
                }
            )
        if not new_contacts:
            return []
        await conn.execute(T_CONTACT.insert(), new_contacts)
        await conn.execute(
            dialect_insert(conn, T_IDENT).on_conflict_do_nothing(
                index_elements=["channel_id", "external_id"]
            ),
            new_identities,
        )
        return [c["id"] for c in new_contacts]

    async def _lock_conversations(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch
    ) -> None:
        ids = sorted(set(s.conv_of.values()))
        if not ids:
            return
        suspects = self._suspects(ids)
        rows = list(
            await conn.execute(
                self._sql.lock_conversations, {"ids": [i for i in ids if i not in suspects]}
            )
        )
        if suspects:
            # After the ordered, waiting locks: a statement that never waits adds no deadlock.
            free = list(await conn.execute(self._sql.lock_if_free, {"ids": sorted(suspects)}))
            for r in free:
                self._stuck.pop(r.id, None)
            rows += free
        s.conversations = {r.id: r for r in rows}
        s.kinds = {r.channel_id: r.channel_kind for r in s.conversations.values()}
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
                s.channel_of[n] = conv.channel_id

    def _suspects(self, ids: list[str]) -> set[str]:
        """Those of ``ids`` found locked elsewhere lately; forgotten once taken or after a
        while (then waited for again, for at most the lock wait)."""
        if not self._stuck:
            return set()
        now = time.monotonic()
        for conv_id, since in list(self._stuck.items()):
            if now - since > STUCK_RECHECK_S:
                del self._stuck[conv_id]
        return {i for i in ids if i in self._stuck}

    async def _earlier_copies(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch, only: list[int] | None = None
    ) -> dict[tuple[str, ...], Message]:
        """Stored messages that share an idempotency key with the items (``only`` those),
        by key: ("id", id), ("client", conversation, author kind, author id, client id),
        ("provider", channel, provider message id). A ``client_id`` is the author's own: the
        lookup finds every author's (by the index on conversation and client id), the keys
        tell them apart."""
        live = [n for n in s.conv_of if n not in s.results] if only is None else only
        if not live:
            return {}
        by_client = [(s.conv_of[n], items[n].client_id) for n in live if items[n].client_id]
        by_provider = [
            (s.channel_of.get(n, items[n].channel_id), items[n].provider_message_id)
            for n in live
            if items[n].provider_message_id
        ]
        params = {
            "ids": list({items[n].id for n in live}),
            **self._sql.pairs("clients", by_client),
            **self._sql.pairs("providers", by_provider),
        }
        existing: dict[tuple[str, ...], Message] = {}
        for row in await conn.execute(self._sql.duplicates, params):
            message = message_from_row(row)  # type: ignore[arg-type]
            existing[("id", row.id)] = message
            if row.client_id:
                existing[
                    _client_key(row.conversation_id, row.author_kind, row.author_id, row.client_id)
                ] = message
            if row.provider_message_id:
                existing[("provider", row.channel_id, row.provider_message_id)] = message
        return existing

    async def _deduplicate(
        self,
        conn: AsyncConnection,
        items: list[Inbound],
        s: _Batch,
        existing: dict[tuple[str, ...], Message],
    ) -> list[int]:
        """Indices of the items to insert; the others get the earlier message as result.

        Runs once the conversations are locked and checked, so a copy in a conversation
        of another workspace is never handed out."""
        live = [n for n in s.conv_of if n not in s.results]
        # A provider key looked up before its conversation told its channel: look again.
        unsure = [
            n
            for n in live
            if items[n].provider_message_id and s.channel_of[n] != items[n].channel_id
        ]
        if unsure:
            existing = {**existing, **await self._earlier_copies(conn, items, s, unsure)}
        fresh: list[int] = []
        first_of: dict[tuple[str, ...], int] = {}
        for n in live:
            item = items[n]
            keys = [("id", item.id)]
            if item.client_id:
                keys.append(
                    _client_key(s.conv_of[n], item.author.kind, item.author.id, item.client_id)
                )
            if item.provider_message_id:
                keys.append(("provider", s.channel_of[n], item.provider_message_id))
            earlier = next((existing[k] for k in keys if k in existing), None)
            if earlier is not None:
                s.results[n] = WriteResult(earlier, created=False)
                continue
            twin = next((first_of[k] for k in keys if k in first_of), None)
            if twin is not None:
                s.results[n] = _Twin(twin)  # resolved after the insert
                continue
            for k in keys:
                first_of[k] = n
            fresh.append(n)
        return fresh

    async def _insert(
        self, conn: AsyncConnection, items: list[Inbound], fresh: list[int], s: _Batch
    ) -> None:
        now = utcnow()
        per_conv: dict[str, list[int]] = defaultdict(list)
        for n in fresh:
            per_conv[s.conv_of[n]].append(n)
        rows: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        conv_updates: list[dict[str, Any]] = []
        for conv_id, indices in per_conv.items():
            conv = s.conversations[conv_id]
            seq = conv.last_seq
            inbound_seen = False
            status = conv.status
            read_seq = conv.read_seq
            for n in indices:
                item = items[n]
                seq += 1
                channel_id = s.channel_of[n]
                kind = s.kinds[channel_id]
                outward = item.direction == "out" and item.provider_message_id is None
                message_status = item.status
                # A private note leaves for nowhere: never queued, never in the outbox.
                leaves = outward and not item.private and kind in EXTERNAL_KINDS
                if outward:
                    message_status = "queued" if leaves else "sent"
                    read_seq = seq  # an operator who replies has read the thread
                if item.direction == "in":
                    inbound_seen = True
                    if status == "resolved":
                        status = "open"
                        s.changed.add(conv_id)
                row = {
                    "id": item.id,
                    "workspace_id": item.workspace_id,
                    "conversation_id": conv_id,
                    "channel_id": channel_id,
                    "seq": seq,
                    "direction": item.direction,
                    "author_kind": item.author.kind,
                    "author_id": item.author.id,
                    "author_name": item.author.name,
                    "text": item.text,
                    "attachments": [a.to_record() for a in item.attachments],
                    "status": message_status,
                    "error": None,
                    "error_code": None,
                    "attempts": 0,
                    "next_attempt_at": None,
                    "private": item.private,
                    "client_id": item.client_id,
                    "provider_message_id": item.provider_message_id,
                    "created_at": now,
                    "payload": item.payload,
                }
                rows.append(row)
                if leaves:
                    outbox.append(
                        {
                            "id": new_id("ob_"),
                            "workspace_id": item.workspace_id,
                            "message_id": item.id,
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                    )
                s.results[n] = WriteResult(message_from_row(_RowView(row)), created=True)  # type: ignore[arg-type]
            conv_updates.append(
                {
                    "b_id": conv_id,
                    "last_seq": seq,
                    "status": status,
                    "read_seq": read_seq,
                    "last_message_at": now,
                    "updated_at": now,
                    "last_inbound_at": now if inbound_seen else conv.last_inbound_at,
                }
            )
        if rows and self._sql.insert_and_count is not None:
            await conn.execute(self._sql.insert_and_count, _as_arrays(rows, conv_updates, now))
        elif rows:
            await conn.execute(T_MSG.insert(), rows)
            await conn.execute(self._sql.update_conversations, conv_updates)
        if outbox:
            await conn.execute(T_OUTBOX.insert(), outbox)
        for n, result in list(s.results.items()):
            if isinstance(result, _Twin):
                first = s.results[result.index]
                assert isinstance(first, WriteResult)
                s.results[n] = WriteResult(first.message, created=False)

    async def _changed_conversations(
        self, conn: AsyncConnection, s: _Batch
    ) -> dict[str, dict[str, Any]]:
        if not s.changed:
            return {}
        rows = await conn.execute(self._sql.changed, {"ids": list(s.changed)})
        last: dict[str, Message] = {}
        for result in s.results.values():
            if isinstance(result, WriteResult) and result.created:
                last[result.message.conversation_id] = result.message
        return {
            r.id: conversation_to_wire(
                r,
                _Named(r.channel_id, r.kind, r.channel_name),  # type: ignore[arg-type]
                _Named(r.contact_id, None, r.contact_name),  # type: ignore[arg-type]
                last.get(r.id),
            )
            for r in rows
        }


def _unavailable(why: str, cause: BaseException | None = None) -> Unavailable:
    """One exception per caller (each raises it in its own task, with its own traceback)."""
    exc = Unavailable(why)
    exc.__cause__ = cause
    return exc


def _client_key(
    conversation_id: str, author_kind: str, author_id: str | None, client_id: str
) -> tuple[str, ...]:
    """The idempotency key of a ``client_id``: one author's resend, never another's."""
    return ("client", conversation_id, author_kind, author_id or "", client_id)


@dataclass(frozen=True, slots=True)
class _Twin:
    """A duplicate inside one batch: it gets the result of item ``index``."""

    index: int


class _RowView:
    """Attribute access over an insert dict, so one converter serves rows and inserts."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


@dataclass(frozen=True, slots=True)
class _Named:
    id: str
    kind: str | None
    name: str | None
