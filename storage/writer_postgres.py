"""The writer on Postgres: lists bound as arrays, explicit row locks, bounded waits, and
a batch in four round trips: ``BEGIN``, one statement that reads (and locks) everything
the batch must know first (:func:`_lookup`), one that writes its first contacts, rows and
counters (:func:`_write_plan`), ``COMMIT``. (``BEGIN`` and ``COMMIT`` cannot ride with a
prepared statement: asyncpg sends each execution with its own Sync and waits for it.)

Every statement of the writer is built with SQLAlchemy once, compiled once for asyncpg and
then run on the driver's connection itself (:class:`_Raw`): no compilation, parameter
processing or result wrapping per statement, and no hop through SQLAlchemy's async
bridge (``bench/writer_cpu.py`` measures what that saves). The SQL text is the same for
every batch size, so asyncpg's cache of prepared statements reuses each one instead of
parsing and planning it per batch. Transactions are begun and committed as simple
queries on the driver's connection (the SQLAlchemy connection is in autocommit): no
transaction is left open between batches, where it would show as idle in transaction.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any, cast

import asyncpg
from sqlalchemy import (
    JSON,
    BindParameter,
    Boolean,
    ClauseElement,
    ColumnElement,
    DateTime,
    Executable,
    Integer,
    Select,
    String,
    TextClause,
    and_,
    bindparam,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from storage import flow_triggers
from storage.batch_plan import Plan
from storage.writer_sql import (
    T_CHANNEL,
    T_CONTACT,
    T_CONV,
    T_ERASED,
    T_IDENT,
    T_MSG,
    Found,
    Lookup,
    NewSender,
    WriterSql,
)

STATEMENT_S = 10.0  # longest a writer statement may run
IDLE_IN_TRANSACTION_S = 10.0  # a writer frozen mid-transaction loses its locks after this


@dataclass(frozen=True, slots=True)
class _Rows:
    """One table's rows of a plan, inserted by the plan's statement: every column bound as
    one array and joined by ``unnest``; ``defaults`` are SQL for the columns not bound
    (``:now`` is the batch's time). Adding a table to the writer's transaction is one more
    of these in :data:`_PLAN_ROWS`, and a list of rows in :class:`storage.batch_plan.Plan`."""

    table: str
    columns: Mapping[str, TypeEngine[Any]]  # column -> element type of its array
    rows: Callable[[Plan], list[dict[str, Any]]]
    defaults: Mapping[str, str]
    # Rows kept only where this SQL over ``r.<column>`` holds, and columns it reads that
    # are bound but not inserted.
    where: str = "TRUE"
    reads: Mapping[str, TypeEngine[Any]] = field(default_factory=dict)
    # The column of each row kept that the statement answers (one table at most).
    answers: str = ""


_PLAN_ROWS = (
    _Rows(
        "messages",
        {
            "id": String(),
            "workspace_id": String(),
            "conversation_id": String(),
            "channel_id": String(),
            "seq": Integer(),
            "direction": String(),
            "author_kind": String(),
            "author_id": String(),
            "author_name": String(),
            "text": String(),
            "attachments": JSON(),
            "status": String(),
            "client_id": String(),
            "provider_message_id": String(),
            "payload": JSON(),
            "private": Boolean(),
            "sent_at": DateTime(timezone=True),
        },
        lambda plan: plan.messages,
        # The delivery columns (``error_code``, ``attempts``, ``next_attempt_at``) take
        # their defaults: no send was tried yet.
        {"error": "NULL", "created_at": ":now"},
    ),
    _Rows(
        "outbox",
        {
            "id": String(),
            "workspace_id": String(),
            "message_id": String(),
            "next_attempt_at": DateTime(timezone=True),
        },
        lambda plan: plan.outbox,
        {"attempts": "0", "created_at": ":now"},
    ),
    _Rows(
        "media_fetches",
        {
            "message_id": String(),
            "workspace_id": String(),
            "next_attempt_at": DateTime(timezone=True),
        },
        lambda plan: plan.media_fetches,
        {"attempts": "0"},
    ),
    _Rows(
        "flow_triggers",
        {
            "message_id": String(),
            "workspace_id": String(),
            "leased_at": DateTime(timezone=True),
        },
        lambda plan: plan.flow_triggers,
        {"attempts": "0"},
        where=flow_triggers.could_move_sql("r.workspace_id", "r.conversation_id"),
        reads={"conversation_id": String()},
        answers="message_id",  # so the flow runner need not ask which could move a flow
    ),
)
_COUNTER_ARRAYS: dict[str, TypeEngine[Any]] = {  # named as in Plan.counters
    "b_id": String(),
    "last_seq": Integer(),
    "status": String(),
    "read_seq": Integer(),
    "last_inbound_at": DateTime(timezone=True),
}


def _array_type(element: TypeEngine[Any]) -> TypeEngine[Any]:
    """How a column's array is bound: JSON as text (cast back in the SQL)."""
    return ARRAY(String() if isinstance(element, JSON) else element)


_SENDER_ARRAYS = (  # NewSender's fields, each bound as one array
    "contact_id",
    "identity_id",
    "conversation_id",
    "workspace_id",
    "channel_id",
    "external_id",
    "name",
)


def _write_plan() -> TextClause:
    """First-contact senders, a plan's rows of every table and its conversations' new
    counters in one statement, one round trip. The statement is the same whatever the plan
    holds (a table without rows binds empty arrays), so it is prepared once.

    A sender's contact, identity and conversation go in first: the foreign keys of the
    rows that name them are checked at the end of the statement. Its conversation is
    inserted with its counters, as the statement's update cannot see rows its own inserts
    add. An identity another process took meanwhile violates the unique index (after
    waiting for that process's commit, at most ``lock_timeout``)."""
    senders = """
        contacts_added AS (
            INSERT INTO contacts
                (id, workspace_id, name, attributes, processing, created_at, updated_at)
            SELECT n.contact_id, n.workspace_id, n.name, '{}', 'normal', :now, :now
            FROM unnest(:s_contact_id, :s_workspace_id, :s_name)
                AS n(contact_id, workspace_id, name)
        ), identities_added AS (
            INSERT INTO contact_identities
                (id, workspace_id, channel_id, contact_id, external_id, created_at)
            SELECT n.identity_id, n.workspace_id, n.channel_id, n.contact_id, n.external_id, :now
            FROM unnest(:s_identity_id, :s_workspace_id, :s_channel_id, :s_contact_id,
                :s_external_id) AS n(identity_id, workspace_id, channel_id, contact_id, external_id)
        ), conversations_added AS (
            INSERT INTO conversations (id, workspace_id, channel_id, contact_id, status, tags,
                last_seq, read_seq, last_message_at, last_inbound_at, created_at, updated_at)
            SELECT n.conversation_id, n.workspace_id, n.channel_id, n.contact_id,
                coalesce(u.status, 'open'), '[]', coalesce(u.last_seq, 0),
                coalesce(u.read_seq, 0), CASE WHEN u.b_id IS NOT NULL THEN :now END,
                u.last_inbound_at, :now, :now
            FROM unnest(:s_conversation_id, :s_workspace_id, :s_channel_id, :s_contact_id)
                AS n(conversation_id, workspace_id, channel_id, contact_id)
            LEFT JOIN counters AS u ON u.b_id = n.conversation_id
        )"""
    inserts = []
    binds: list[BindParameter[Any]] = [bindparam("now", type_=DateTime(timezone=True))]
    binds += [bindparam(f"s_{f}", type_=ARRAY(String())) for f in _SENDER_ARRAYS]
    for t in _PLAN_ROWS:
        names = ", ".join(t.columns)
        values = ", ".join(
            f"r.{c}::json" if isinstance(e, JSON) else f"r.{c}" for c, e in t.columns.items()
        )
        bound = {**t.columns, **t.reads}
        arrays = ", ".join(f":{t.table}_{c}" for c in bound)
        inserts.append(
            f"{t.table}_added AS (INSERT INTO {t.table} ({names}, {', '.join(t.defaults)})"
            f" SELECT {values}, {', '.join(t.defaults.values())}"
            f" FROM unnest({arrays}) AS r({', '.join(bound)}) WHERE ({t.where})"
            f"{f' RETURNING {t.answers}' if t.answers else ''})"
        )
        binds += [bindparam(f"{t.table}_{c}", type_=_array_type(e)) for c, e in bound.items()]
    counters = ", ".join(f":c_{c}" for c in _COUNTER_ARRAYS)
    [answering] = [t for t in _PLAN_ROWS if t.answers]
    sql = f"""
        WITH counters AS (
            SELECT * FROM unnest({counters}) AS u({", ".join(_COUNTER_ARRAYS)})
        ), {senders}, {", ".join(inserts)}, counted AS (
            UPDATE conversations AS c SET last_seq = u.last_seq, status = u.status,
                read_seq = u.read_seq, last_message_at = :now, updated_at = :now,
                last_inbound_at = u.last_inbound_at
            FROM counters AS u
            WHERE c.id = u.b_id
        )
        SELECT {answering.answers} FROM {answering.table}_added
    """
    binds += [bindparam(f"c_{c}", type_=ARRAY(t)) for c, t in _COUNTER_ARRAYS.items()]
    return text(sql).bindparams(*binds)


def _plan_arrays(plan: Plan, senders: list[NewSender], now: datetime) -> dict[str, Any]:
    """The parameters of :func:`_write_plan`: one array per column, each read off the rows
    in one pass (a column's values are a tuple, which asyncpg binds as an array)."""
    params: dict[str, Any] = {"now": now}
    params.update(_arrays(_SENDER_PARAMS, _SENDER_VALUES, senders))
    for t, names, values, json_names in _PLAN_PARAMS:
        params.update(_arrays(names, values, t.rows(plan)))
        for name in json_names:
            params[name] = [None if v is None else _json(v) for v in params[name]]
    params.update(_arrays(_COUNTER_PARAMS, _COUNTER_VALUES, plan.counters))
    return params


def _arrays(
    names: Sequence[str], values: Callable[[Any], tuple[Any, ...]], rows: Sequence[Any]
) -> Iterable[tuple[str, tuple[Any, ...]]]:
    """Each of ``names`` with its column, given the values of a row in the order of names."""
    if not rows:  # most tables, most batches
        return dict.fromkeys(names, ()).items()
    return zip(names, zip(*map(values, rows), strict=True), strict=True)


def _json(value: Any) -> str:
    """A JSON column's value as text; an empty list (most messages' attachments) as is."""
    return "[]" if value == [] else json.dumps(value)


_SENDER_PARAMS = [f"s_{f}" for f in _SENDER_ARRAYS]
_SENDER_VALUES = attrgetter(*_SENDER_ARRAYS)
_PLAN_PARAMS = [
    (
        t,
        [f"{t.table}_{c}" for c in {**t.columns, **t.reads}],
        itemgetter(*{**t.columns, **t.reads}),
        [f"{t.table}_{c}" for c, e in t.columns.items() if isinstance(e, JSON)],
    )
    for t in _PLAN_ROWS
]
_COUNTER_PARAMS = [f"c_{c}" for c in _COUNTER_ARRAYS]
_COUNTER_VALUES = itemgetter(*_COUNTER_ARRAYS)


_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


def _sql_type(column: ColumnElement[Any]) -> str:
    return str(column.type.compile(dialect=_DIALECT))


# The lookup's answer is one row shape for every kind of row: the union of the columns of
# each (same name, same meaning, same type), the others NULL.
_FOUND_COLUMNS: dict[str, str] = {
    "kind": "TEXT",
    **{c.name: _sql_type(c) for c in T_CONV.c},
    "channel_kind": _sql_type(T_CHANNEL.c.kind),
    "channel_name": _sql_type(T_CHANNEL.c.name),
    "contact_name": _sql_type(T_CONTACT.c.name),
    **{c.name: _sql_type(c) for c in T_MSG.c if c.name not in T_CONV.c},
    "external_id": _sql_type(T_IDENT.c.external_id),
    "id_hash": _sql_type(T_ERASED.c.id_hash),
}


def _found_rows(kind: str, values: Mapping[str, str], source: str) -> str:
    """A SELECT of the lookup's row shape: ``values`` (column -> SQL), NULL elsewhere."""
    cells = [f"'{kind}'::TEXT AS kind"]
    cells += [
        f"{values.get(c, f'NULL::{t}')} AS {c}" for c, t in _FOUND_COLUMNS.items() if c != "kind"
    ]
    return f"SELECT {', '.join(cells)} {source}"


def _lookup() -> TextClause:
    """A :class:`storage.writer_sql.Lookup` in one statement, one round trip: erased
    provider messages, senders with their newest conversation on the channel, the senders'
    channels, the conversations named or the senders' (locked, in id order, with what their
    wire form names), and stored copies by id, client id and provider id (three index
    lookups; an OR of them would scan the table).

    The copies are read in the statement's snapshot, taken before any lock wait (as a
    separate read before the locks would be): a copy committed meanwhile makes the unique
    indexes refuse the insert, and the retry finds it."""
    conversation = {c.name: f"l.{c.name}" for c in T_CONV.c}
    conversation |= {c: f"l.{c}" for c in ("channel_kind", "channel_name", "contact_name")}
    message = {c.name: f"m.{c.name}" for c in T_MSG.c}
    sender = {
        c: f"s.{c}"
        for c in ("channel_id", "external_id", "contact_id", "workspace_id", "conversation_id")
    }
    channel = {
        "channel_id": "ch.id",
        "workspace_id": "ch.workspace_id",
        "channel_kind": "ch.kind",
        "channel_name": "ch.name",
    }
    branches = [
        _found_rows("conversation", conversation, "FROM locked AS l"),
        _found_rows("sender", sender, "FROM senders AS s"),
        _found_rows(
            "channel", channel, "FROM channels AS ch WHERE ch.id IN (SELECT unnest(:channels))"
        ),
        _found_rows(
            "erased",
            {"id_hash": "e.id_hash"},
            "FROM erased_provider_messages AS e WHERE e.id_hash IN (SELECT unnest(:erased))",
        ),
        _found_rows("copy", message, "FROM messages AS m WHERE m.id IN (SELECT unnest(:ids))"),
        _found_rows(
            "copy",
            message,
            "FROM messages AS m JOIN unnest(:clients_a, :clients_b) AS k(a, b)"
            " ON m.conversation_id = k.a AND m.client_id = k.b",
        ),
        _found_rows(
            "copy",
            message,
            "FROM messages AS m JOIN unnest(:providers_a, :providers_b) AS k(a, b)"
            " ON m.channel_id = k.a AND m.provider_message_id = k.b",
        ),
    ]
    sql = f"""
        WITH senders AS MATERIALIZED (
            SELECT DISTINCT ON (i.channel_id, i.external_id) i.channel_id, i.external_id,
                i.contact_id, i.workspace_id, c.id AS conversation_id
            FROM contact_identities AS i
            JOIN unnest(:senders_a, :senders_b) AS k(a, b)
                ON i.channel_id = k.a AND i.external_id = k.b
            LEFT JOIN conversations AS c
                ON c.contact_id = i.contact_id AND c.channel_id = i.channel_id
            ORDER BY i.channel_id, i.external_id, c.created_at DESC, c.id DESC
        ), locked AS MATERIALIZED (
            SELECT c.*, ch.kind AS channel_kind, ch.name AS channel_name,
                ct.name AS contact_name
            FROM conversations AS c
            JOIN channels AS ch ON ch.id = c.channel_id
            JOIN contacts AS ct ON ct.id = c.contact_id
            WHERE c.id IN (
                SELECT unnest(:conversations) UNION SELECT conversation_id FROM senders
            ) AND c.id <> ALL(:stuck)
            ORDER BY c.id
            FOR UPDATE OF c
        )
        {" UNION ALL ".join(branches)}
    """
    lists = ("conversations", "stuck", "channels", "erased", "ids")
    pairs = ("senders", "clients", "providers")
    names = [*lists, *(f"{p}_{x}" for p in pairs for x in "ab")]
    return text(sql).bindparams(*(bindparam(n, type_=ARRAY(String())) for n in names))


class _Row(asyncpg.Record):  # type: ignore[misc]
    """An asyncpg record whose columns read as attributes too, as SQLAlchemy's rows do."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True, slots=True)
class _Raw:
    """A statement compiled once for asyncpg: its SQL, with ``$n`` for the parameters named
    in ``names``. Run on the driver's connection, the parameters go as given: only types
    SQLAlchemy would pass through unchanged are allowed (arrays and JSON text are built by
    the caller)."""

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, statement: Executable) -> _Raw:
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=_DIALECT))
        for name, bind in compiled.binds.items():
            kind = bind.type
            if not isinstance(kind, ARRAY) and kind.bind_processor(_DIALECT) is not None:
                raise TypeError(f"{name} ({kind}) needs SQLAlchemy's processing")
        return cls(compiled.string, tuple(compiled.positiontup or ()))

    async def fetch(self, raw: asyncpg.Connection, params: Mapping[str, Any]) -> list[_Row]:
        try:
            rows: list[_Row] = await raw.fetch(
                self.sql, *map(params.__getitem__, self.names), record_class=_Row
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _as_sqlalchemy(exc, self.sql, raw.is_closed()) from exc
        return rows


# SQLSTATE class -> the SQLAlchemy exception its asyncpg dialect raises for it (any other
# server error is a plain DBAPIError there too).
_ERROR_CLASSES: dict[str, type[sa_exc.DBAPIError]] = {
    "23": sa_exc.IntegrityError,
    "42": sa_exc.ProgrammingError,
    "XX": sa_exc.InternalError,
}


def _as_sqlalchemy(exc: Exception, sql: str, closed: bool) -> sa_exc.DBAPIError:
    """The driver's error as SQLAlchemy would raise it: callers and :mod:`storage.faults`
    see the same classes, ``orig`` chain and ``connection_invalidated`` (the connection
    closed) whichever way a statement ran. No parameters are kept: they hold message
    bodies."""
    if isinstance(exc, asyncpg.InterfaceError):
        kind: type[sa_exc.DBAPIError] = sa_exc.InterfaceError
    else:
        kind = _ERROR_CLASSES.get(str(getattr(exc, "sqlstate", ""))[:2], sa_exc.DBAPIError)
    return kind(sql, None, exc, hide_parameters=True, connection_invalidated=closed)


class PostgresWriterSql(WriterSql):
    def __init__(self) -> None:
        super().__init__()
        self._raw: asyncpg.Connection | None = None  # the driver's connection under it
        self._lock_conversations = self.conversations.with_for_update(of=T_CONV)
        lock_contacts = select(T_CONTACT.c.id).where(self.among(T_CONTACT.c.id, "ids"))
        self._lock_contacts = lock_contacts.order_by(T_CONTACT.c.id).with_for_update()
        # Three index lookups; an OR of them would scan the table.
        self._duplicates = union_all(
            select(T_MSG).where(self.among(T_MSG.c.id, "ids")),
            self.with_pairs(select(T_MSG), T_MSG.c.conversation_id, T_MSG.c.client_id, "clients"),
            self.with_pairs(
                select(T_MSG), T_MSG.c.channel_id, T_MSG.c.provider_message_id, "providers"
            ),
        )
        # Every statement the writer runs here, compiled once for the driver.
        self._compiled: dict[Executable, _Raw] = {
            statement: _Raw.of(statement)
            for statement in (
                self.contacts,
                self.lock_if_free,
                self.existing_conversations,
                self._lock_conversations,
                self._lock_contacts,
                self._duplicates,
            )
        }
        self._write_plan = _Raw.of(_write_plan())
        self._lookup = _Raw.of(_lookup())

    async def look_up(self, conn: AsyncConnection, q: Lookup) -> Found:
        params = {
            "conversations": q.conversations,
            "stuck": q.stuck,
            "channels": q.channels,
            "erased": q.erased,
            "ids": q.ids,
            **self.pairs("senders", q.senders),
            **self.pairs("clients", q.clients),
            **self.pairs("providers", q.providers),
        }
        found = Found()
        for r in await self._lookup.fetch(self._driver(), params):
            if r.kind == "copy":
                found.copies.append(r)
            elif r.kind == "conversation":
                found.conversations[r.id] = r
            elif r.kind == "sender":
                found.senders[(r.channel_id, r.external_id)] = r
            elif r.kind == "channel":
                found.channels[r.channel_id] = r
            else:
                found.erased.add(r.id_hash)
        return found

    async def rows(
        self, conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]
    ) -> Sequence[Any]:
        return await self._compiled[statement].fetch(self._driver(), params)

    def among(self, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
        return column.in_(select(func.unnest(bindparam(name, type_=ARRAY(String())))))

    def with_pairs(
        self, query: Select[Any], a: ColumnElement[Any], b: ColumnElement[Any], name: str
    ) -> Select[Any]:
        keys = (
            func.unnest(
                bindparam(f"{name}_a", type_=ARRAY(String())),
                bindparam(f"{name}_b", type_=ARRAY(String())),
            )
            .table_valued("a", "b")
            .render_derived(name=name)
        )
        return query.join(keys, and_(a == keys.c.a, b == keys.c.b))

    def pairs(self, name: str, values: Iterable[tuple[str, str]]) -> dict[str, Any]:
        values = list(values)
        return {f"{name}_a": [a for a, _ in values], f"{name}_b": [b for _, b in values]}

    @property
    def lock_conversations(self) -> Select[Any]:
        return self._lock_conversations

    @property
    def duplicates(self) -> Executable:
        return self._duplicates

    async def connect(self, engine: AsyncEngine, lock_wait_s: float) -> AsyncConnection:
        conn = await engine.connect()
        # Transactions are begun and ended by hand (see transaction).
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        raw: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
        # Plan each statement once, for any batch size: every one finds its rows by key
        # through an index, which a plan made for one array size may not, nor one made
        # while the tables are small (a fresh database's, before any ANALYZE: that plan
        # reads whole tables, and is kept as they grow). (This connection never returns to
        # the pool: it is invalidated when dropped.) Bound every wait: a lock held by a
        # frozen process, a stalled statement.
        await raw.execute(
            "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off;"
            f" SET lock_timeout = {int(lock_wait_s * 1000)};"
            f" SET statement_timeout = {int(STATEMENT_S * 1000)};"
            " SET idle_in_transaction_session_timeout ="
            f" {int(IDLE_IN_TRANSACTION_S * 1000)}"
        )
        self._raw = raw
        return conn

    def connection_dead(self) -> bool:
        return self._raw is not None and self._raw.is_closed()

    def forget_connection(self) -> None:
        self._raw = None

    def _driver(self) -> asyncpg.Connection:
        if self._raw is None:
            raise RuntimeError("the writer has no connection")
        return self._raw

    @asynccontextmanager
    async def transaction(self, conn: AsyncConnection) -> AsyncIterator[None]:
        # On an error nothing is sent: the writer drops the connection, which ends it.
        raw = self._driver()
        await raw.execute("BEGIN")
        yield
        await raw.execute("COMMIT")

    async def lock_contacts(self, conn: AsyncConnection, ids: list[str]) -> None:
        await self.rows(conn, self._lock_contacts, {"ids": ids})

    async def write_plan(
        self, conn: AsyncConnection, plan: Plan, senders: list[NewSender], now: datetime
    ) -> set[str]:
        if not (plan.messages or senders):
            return set()
        rows = await self._write_plan.fetch(self._driver(), _plan_arrays(plan, senders, now))
        return {r[0] for r in rows}

    async def locked_elsewhere(self, conn: AsyncConnection, ids: list[str]) -> set[str]:
        params = {"ids": ids}
        raw = self._driver()
        await raw.execute("BEGIN")
        exist = {r.id for r in await self.rows(conn, self.existing_conversations, params)}
        free = {r.id for r in await self.rows(conn, self.lock_if_free, params)}
        await raw.execute("ROLLBACK")
        return exist - free
