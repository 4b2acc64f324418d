"""The batching writer: every message of the process goes into the database through here.

Callers ``await write(inbound)``; one task drains whatever queued up meanwhile and commits it
in ONE transaction (group commit), so no handler waits on the database one message at a
time and the commit cost is shared. Inside the transaction it finds or creates the contact
and conversation, takes the conversation rows' locks (Postgres ``FOR UPDATE``; SQLite's
``BEGIN IMMEDIATE`` is already exclusive), drops duplicates by message id, ``client_id`` and
provider message id, gives each new message the next ``seq`` of its conversation, and
queues outbound sends in the outbox. A caller's future resolves only after the commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.ids import new_id
from hub.model import Inbound, Message, utcnow
from hub.store import Gone, NotFound, WriteResult
from storage import models as m
from storage.serialize import conversation_to_wire, message_from_row

log = logging.getLogger("inviaro.writer")

# Replies on these channels leave through the outbox and a provider's API.
EXTERNAL_KINDS = frozenset({"whatsapp", "messenger", "instagram", "viber"})

Observe = Callable[[int, float], None]
NAME_CHARS = 200  # contact and author names are kept in 200 characters

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


def dialect_insert(conn: AsyncConnection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


@dataclass
class _Pending:
    inbound: Inbound
    future: asyncio.Future[WriteResult]


@dataclass
class _Batch:
    """What one transaction learned, keyed for the items that need it."""

    channels: dict[str, Any] = field(default_factory=dict)
    conversations: dict[str, Any] = field(default_factory=dict)
    conv_of: dict[int, str] = field(default_factory=dict)  # item index -> conversation id
    channel_of: dict[int, str] = field(default_factory=dict)  # item index -> channel id
    changed: set[str] = field(default_factory=set)  # conversations created or reopened
    results: dict[int, WriteResult | Exception] = field(default_factory=dict)


class BatchingWriter:
    def __init__(
        self, engine: AsyncEngine, *, max_batch: int = 500, observe: Observe | None = None
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._observe = observe
        self._queue: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # One connection kept for the writer's life: no pool checkout, pre-ping and
        # reset per batch (about a tenth of a busy hub's CPU). Dropped on any error.
        self._conn: AsyncConnection | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inviaro-writer")

    async def close(self) -> None:
        """Commit everything already queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._drop_connection()

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._engine.connect()
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
                await conn.close()
            except Exception as exc:  # the connection is gone either way
                log.debug("writer connection close failed: %s", type(exc).__name__)

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def write(self, inbound: Inbound) -> WriteResult:
        if self._closing:
            raise RuntimeError("the writer is closing; retry on another process")
        self.start()
        future: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(_cleaned(inbound), future))
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
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            outcomes = await self._transaction([p.inbound for p in batch])
        except Exception as exc:
            if len(batch) > 1:
                # One poisoned item (or a race lost to another process) must not fail the
                # rest: retry each message in a transaction of its own.
                log.warning(
                    "group commit of %d failed (%s); retrying one by one",
                    len(batch),
                    type(exc).__name__,
                )
                for pending in batch:
                    await self._commit([pending])
                return
            log.warning("write failed: %s", type(exc).__name__, exc_info=exc)
            outcomes = [exc]
        if self._observe is not None:
            self._observe(len(batch), time.perf_counter() - started)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if isinstance(outcome, Exception):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)

    async def _transaction(self, items: list[Inbound]) -> list[WriteResult | Exception]:
        state = _Batch()
        conn = await self._connection()
        try:
            async with conn.begin():
                await self._load_channels(conn, items, state)
                await self._drop_erased(conn, items, state)
                await self._resolve_conversations(conn, items, state)
                await self._lock_conversations(conn, items, state)
                fresh = await self._deduplicate(conn, items, state)
                await self._insert(conn, items, fresh, state)
                changed = await self._changed_conversations(conn, state)
        except BaseException:
            await self._drop_connection()
            raise
        for i, conv_id in state.conv_of.items():
            result = state.results.get(i)
            if isinstance(result, WriteResult) and result.created and conv_id in changed:
                state.results[i] = WriteResult(result.message, True, changed.pop(conv_id))
        return [state.results[i] for i in range(len(items))]

    async def _load_channels(self, conn: AsyncConnection, items: list[Inbound], s: _Batch) -> None:
        ids = {i.channel_id for i in items if i.channel_id}
        rows = await conn.execute(select(T_CHANNEL).where(T_CHANNEL.c.id.in_(ids)))
        s.channels = {r.id: r for r in rows}
        for n, item in enumerate(items):
            if not item.channel_id and item.conversation_id:
                continue  # the conversation names its channel
            channel = s.channels.get(item.channel_id)
            if channel is None or channel.workspace_id != item.workspace_id:
                s.results[n] = NotFound("no such channel in this workspace")

    async def _drop_erased(self, conn: AsyncConnection, items: list[Inbound], s: _Batch) -> None:
        keyed = {
            n: provider_id_hash(item.channel_id, item.provider_message_id)
            for n, item in enumerate(items)
            if item.provider_message_id and n not in s.results
        }
        if not keyed:
            return
        rows = await conn.execute(
            select(T_ERASED.c.id_hash).where(T_ERASED.c.id_hash.in_(set(keyed.values())))
        )
        erased = {r.id_hash for r in rows}
        for n, digest in keyed.items():
            if digest in erased:
                s.results[n] = Gone("this message was erased")

    async def _resolve_conversations(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch
    ) -> None:
        """Map each item to its conversation, creating contact and conversation on first
        contact. Races with other processes end in the unique (channel, external id) index."""
        for n, item in enumerate(items):
            if n not in s.results and item.conversation_id is not None:
                s.conv_of[n] = item.conversation_id
        wanted: dict[tuple[str, str], list[int]] = defaultdict(list)
        for n, item in enumerate(items):
            if n in s.results or item.conversation_id is not None:
                continue
            if not item.contact_external_id:
                s.results[n] = NotFound("a message needs a conversation or a sender")
                continue
            wanted[(item.channel_id, item.contact_external_id)].append(n)
        if not wanted:
            return
        contact_of = await self._identities(conn, wanted.keys())
        missing = [key for key in wanted if key not in contact_of]
        if missing:
            now = utcnow()
            new_contacts = []
            new_identities = []
            for channel_id, external_id in missing:
                first = items[wanted[(channel_id, external_id)][0]]
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
            await conn.execute(T_CONTACT.insert(), new_contacts)
            await conn.execute(
                dialect_insert(conn, T_IDENT).on_conflict_do_nothing(
                    index_elements=["channel_id", "external_id"]
                ),
                new_identities,
            )
            contact_of = await self._identities(conn, wanted.keys())
            winners = set(contact_of.values())
            losers = [c["id"] for c in new_contacts if c["id"] not in winners]
            if losers:
                await conn.execute(T_CONTACT.delete().where(T_CONTACT.c.id.in_(losers)))
        contact_ids = set(contact_of.values())
        if conn.dialect.name == "postgresql":
            # Serialise first-contact conversation creation for these contacts across processes.
            await conn.execute(
                select(T_CONTACT.c.id)
                .where(T_CONTACT.c.id.in_(contact_ids))
                .order_by(T_CONTACT.c.id)
                .with_for_update()
            )
        rows = await conn.execute(
            select(T_CONV.c.id, T_CONV.c.channel_id, T_CONV.c.contact_id, T_CONV.c.created_at)
            .where(T_CONV.c.contact_id.in_(contact_ids))
            .order_by(T_CONV.c.created_at)
        )
        latest: dict[tuple[str, str], str] = {}
        for r in rows:
            latest[(r.channel_id, r.contact_id)] = r.id  # ascending: the newest wins
        now = utcnow()
        new_convs = []
        for key, indices in wanted.items():
            contact_id = contact_of[key]
            conv_id = latest.get((key[0], contact_id))
            if conv_id is None:
                conv_id = new_id("cv_")
                first = items[indices[0]]
                new_convs.append(
                    {
                        "id": conv_id,
                        "workspace_id": first.workspace_id,
                        "channel_id": key[0],
                        "contact_id": contact_id,
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

    async def _identities(
        self, conn: AsyncConnection, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        rows = await conn.execute(
            select(T_IDENT.c.channel_id, T_IDENT.c.external_id, T_IDENT.c.contact_id).where(
                tuple_(T_IDENT.c.channel_id, T_IDENT.c.external_id).in_(list(keys))
            )
        )
        return {(r.channel_id, r.external_id): r.contact_id for r in rows}

    async def _lock_conversations(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch
    ) -> None:
        ids = sorted(set(s.conv_of.values()))
        if not ids:
            return
        query = select(T_CONV).where(T_CONV.c.id.in_(ids)).order_by(T_CONV.c.id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        s.conversations = {r.id: r for r in await conn.execute(query)}
        for n, conv_id in list(s.conv_of.items()):
            conv = s.conversations.get(conv_id)
            item = items[n]
            if conv is None or conv.workspace_id != item.workspace_id:
                s.results[n] = NotFound("no such conversation in this workspace")
                del s.conv_of[n]
            elif item.channel_id and conv.channel_id != item.channel_id:
                s.results[n] = NotFound("the conversation is on another channel")
                del s.conv_of[n]
            else:
                s.channel_of[n] = conv.channel_id
        unknown = {c for c in s.channel_of.values() if c not in s.channels}
        if unknown:
            rows = await conn.execute(select(T_CHANNEL).where(T_CHANNEL.c.id.in_(unknown)))
            s.channels.update({r.id: r for r in rows})

    async def _deduplicate(
        self, conn: AsyncConnection, items: list[Inbound], s: _Batch
    ) -> list[int]:
        """Indices of the items to insert; the others get the earlier message as result."""
        live = [n for n in s.conv_of if n not in s.results]
        ids = {items[n].id for n in live}
        by_client = [(s.conv_of[n], items[n].client_id) for n in live if items[n].client_id]
        by_provider = [
            (s.channel_of[n], items[n].provider_message_id)
            for n in live
            if items[n].provider_message_id
        ]
        conditions = [T_MSG.c.id.in_(ids)]
        if by_client:
            conditions.append(tuple_(T_MSG.c.conversation_id, T_MSG.c.client_id).in_(by_client))
        if by_provider:
            conditions.append(
                tuple_(T_MSG.c.channel_id, T_MSG.c.provider_message_id).in_(by_provider)
            )
        existing: dict[tuple[str, ...], Message] = {}
        for row in await conn.execute(select(T_MSG).where(or_(*conditions))):
            message = message_from_row(row)  # type: ignore[arg-type]
            existing[("id", row.id)] = message
            if row.client_id:
                existing[("client", row.conversation_id, row.client_id)] = message
            if row.provider_message_id:
                existing[("provider", row.channel_id, row.provider_message_id)] = message
        fresh: list[int] = []
        first_of: dict[tuple[str, ...], int] = {}
        for n in live:
            item = items[n]
            keys = [("id", item.id)]
            if item.client_id:
                keys.append(("client", s.conv_of[n], item.client_id))
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
                kind = s.channels[channel_id].kind
                outward = item.direction == "out" and item.provider_message_id is None
                message_status = item.status
                if outward:
                    message_status = "queued" if kind in EXTERNAL_KINDS else "sent"
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
                    "client_id": item.client_id,
                    "provider_message_id": item.provider_message_id,
                    "created_at": now,
                    "payload": item.payload,
                }
                rows.append(row)
                if outward and kind in EXTERNAL_KINDS:
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
        if rows:
            await conn.execute(T_MSG.insert(), rows)
            await conn.execute(
                update(T_CONV)
                .where(T_CONV.c.id == _bind("b_id"))
                .values(
                    last_seq=_bind("last_seq"),
                    status=_bind("status"),
                    read_seq=_bind("read_seq"),
                    last_message_at=_bind("last_message_at"),
                    updated_at=_bind("updated_at"),
                    last_inbound_at=_bind("last_inbound_at"),
                ),
                conv_updates,
            )
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
        rows = await conn.execute(
            select(
                T_CONV,
                T_CHANNEL.c.kind,
                T_CHANNEL.c.name.label("channel_name"),
                T_CONTACT.c.name.label("contact_name"),
            )
            .join(T_CHANNEL, T_CHANNEL.c.id == T_CONV.c.channel_id)
            .join(T_CONTACT, T_CONTACT.c.id == T_CONV.c.contact_id)
            .where(T_CONV.c.id.in_(s.changed))
        )
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


def _bind(name: str) -> Any:
    return bindparam(name)
