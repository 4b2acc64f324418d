"""The writer's SQL, shared by its two back ends (:mod:`storage.writer_postgres`,
:mod:`storage.writer_sqlite`), which differ in how a list is bound, how a transaction is
run, which locks are taken, how a batch's first questions are asked (:class:`Lookup`: one
statement on Postgres) and how the batch's rows go in.

Lists are bound as one parameter (a Postgres array joined through ``unnest``, or SQLite's
expanding ``IN``); the back end says how, and the statements here are built from that.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    and_,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import models as m
from storage.batch_plan import Plan

T_MSG = m.table_of(m.Message)
T_CONV = m.table_of(m.Conversation)
T_CONTACT = m.table_of(m.Contact)
T_IDENT = m.table_of(m.ContactIdentity)
T_CHANNEL = m.table_of(m.Channel)
T_OUTBOX = m.table_of(m.OutboxItem)
T_FETCH = m.table_of(m.MediaFetch)
T_ERASED = m.table_of(m.ErasedProviderMessage)


def provider_id_hash(channel_id: str, provider_message_id: str) -> str:
    """How an erased provider message is remembered: by a hash, never its id."""
    return hashlib.sha256(f"{channel_id}\x00{provider_message_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewSender:
    """A sender seen for the first time on a channel: the contact, identity and
    conversation to add for them (ids chosen up front)."""

    contact_id: str
    identity_id: str
    conversation_id: str
    workspace_id: str
    channel_id: str
    external_id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a batch's transaction reads first, and the row locks it takes then: asked of
    the database together (one round trip on Postgres)."""

    conversations: list[str]  # named by the items: locked, in id order
    stuck: list[str]  # found locked elsewhere lately: never locked (nor waited for) here
    senders: list[tuple[str, str]]  # (channel, external id): contact, newest conversation (locked)
    channels: list[str]  # the senders' channels: whose they are, their kind and name
    erased: list[str]  # hashes of the items' provider message ids (provider_id_hash)
    ids: list[str]  # stored copies by message id,
    clients: list[tuple[str, str]]  # by (conversation, client id),
    providers: list[tuple[str, str]]  # and by (channel, provider message id)

    def locked(self, found: Found) -> set[str]:
        """The conversations the lookup locked, or would have locked had they existed."""
        ids = set(self.conversations)
        ids.update(r.conversation_id for r in found.senders.values() if r.conversation_id)
        return ids - set(self.stuck)


@dataclass
class Found:
    """The answer to a :class:`Lookup` (rows read as attributes)."""

    erased: set[str] = field(default_factory=set)
    # (channel, external id) -> contact_id, workspace_id, conversation_id (None: none yet)
    senders: dict[tuple[str, str], Any] = field(default_factory=dict)
    # channel id -> workspace_id, channel_kind, channel_name
    channels: dict[str, Any] = field(default_factory=dict)
    conversations: dict[str, Any] = field(default_factory=dict)  # locked, by id
    copies: list[Any] = field(default_factory=list)  # message rows


def _none(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A NULL of the column's type, for a branch of a union that has no such value."""
    return cast(null(), column.type)


def new_conversation(sender: NewSender, now: datetime) -> dict[str, Any]:
    """The row of a first-contact sender's open conversation."""
    return {
        "id": sender.conversation_id,
        "workspace_id": sender.workspace_id,
        "channel_id": sender.channel_id,
        "contact_id": sender.contact_id,
        "status": "open",
        "tags": [],
        "last_seq": 0,
        "read_seq": 0,
        "created_at": now,
        "updated_at": now,
    }


class WriterSql(ABC):
    """The writer's statements and transaction on one database (one per writer: a back
    end may keep state about the writer's connection)."""

    def __init__(self) -> None:
        identity = T_IDENT.outerjoin(
            T_CONV,
            and_(
                T_CONV.c.contact_id == T_IDENT.c.contact_id,
                T_CONV.c.channel_id == T_IDENT.c.channel_id,
            ),
        )
        # (channel, sender) -> contact and its conversations on that channel, oldest first;
        # and in the same answer (one round trip) the senders' channels, as rows without a
        # sender: whose they are, and the kind and name a new conversation is shown with.
        senders = self.with_pairs(
            select(
                T_IDENT.c.channel_id,
                T_IDENT.c.external_id,
                T_IDENT.c.contact_id,
                T_IDENT.c.workspace_id,
                T_CONV.c.id.label("conversation_id"),
                T_CONV.c.created_at.label("conversation_created_at"),
                _none(T_CHANNEL.c.kind).label("channel_kind"),
                _none(T_CHANNEL.c.name).label("channel_name"),
            ).select_from(identity),
            T_IDENT.c.channel_id,
            T_IDENT.c.external_id,
            "keys",
        )
        channels = select(
            T_CHANNEL.c.id,
            _none(T_IDENT.c.external_id),
            _none(T_IDENT.c.contact_id),
            T_CHANNEL.c.workspace_id,
            _none(T_CONV.c.id),
            _none(T_CONV.c.created_at),
            T_CHANNEL.c.kind,
            T_CHANNEL.c.name,
        ).where(self.among(T_CHANNEL.c.id, "channel_ids"))
        by_age: ColumnElement[Any] = literal_column("conversation_created_at")
        self.contacts: Executable = union_all(senders, channels).order_by(by_age)
        # With what a conversation's wire form names, so that the batch's new and reopened
        # conversations are announced without reading them again.
        self.conversations = (
            select(
                T_CONV,
                T_CHANNEL.c.kind.label("channel_kind"),
                T_CHANNEL.c.name.label("channel_name"),
                T_CONTACT.c.name.label("contact_name"),
            )
            .join(T_CHANNEL, T_CHANNEL.c.id == T_CONV.c.channel_id)
            .join(T_CONTACT, T_CONTACT.c.id == T_CONV.c.contact_id)
            .where(self.among(T_CONV.c.id, "ids"))
            .order_by(T_CONV.c.id)
        )
        # Conversations found locked past the wait are taken only if free now: never waits.
        self.lock_if_free = self.conversations.with_for_update(of=T_CONV, skip_locked=True)
        self.existing_conversations = select(T_CONV.c.id).where(self.among(T_CONV.c.id, "ids"))
        self.erased = select(T_ERASED.c.id_hash).where(self.among(T_ERASED.c.id_hash, "ids"))

    async def look_up(self, conn: AsyncConnection, q: Lookup) -> Found:
        """The answer to ``q``, one statement at a time (Postgres asks it in one)."""
        found = Found()
        if q.erased:
            rows = await self.rows(conn, self.erased, {"ids": q.erased})
            found.erased = {r.id_hash for r in rows}
        if q.senders:
            params = {**self.pairs("keys", q.senders), "channel_ids": q.channels}
            for r in await self.rows(conn, self.contacts, params):
                if r.external_id is None:
                    found.channels[r.channel_id] = r
                else:
                    found.senders[(r.channel_id, r.external_id)] = r  # ascending: newest wins
        ids = sorted(q.locked(found))
        if ids:
            rows = await self.rows(conn, self.lock_conversations, {"ids": ids})
            found.conversations = {r.id: r for r in rows}
        if q.ids or q.clients or q.providers:
            params = {
                "ids": q.ids,
                **self.pairs("clients", q.clients),
                **self.pairs("providers", q.providers),
            }
            found.copies = list(await self.rows(conn, self.duplicates, params))
        return found

    async def rows(
        self, conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]
    ) -> Sequence[Any]:
        """The rows of one of the statements above (columns read as attributes; none for
        a statement that answers none)."""
        result = await conn.execute(statement, params)
        return result.all() if result.returns_rows else []

    @abstractmethod
    def among(self, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
        """``column`` is one of the list bound as ``name``."""

    @abstractmethod
    def with_pairs(
        self, query: Select[Any], a: ColumnElement[Any], b: ColumnElement[Any], name: str
    ) -> Select[Any]:
        """``query`` limited to rows whose ``(a, b)`` is one of the pairs bound as ``name``."""

    @abstractmethod
    def pairs(self, name: str, values: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Parameters for the pairs :meth:`with_pairs` bound as ``name``."""

    @property
    @abstractmethod
    def lock_conversations(self) -> Select[Any]:
        """The batch's conversations, with their channel's kind, locked in id order (two
        processes locking overlapping sets never deadlock)."""

    @property
    @abstractmethod
    def duplicates(self) -> Executable:
        """Stored messages by id (``ids``), client id pairs (``clients``) and provider id
        pairs (``providers``): one select, or a union of three."""

    @abstractmethod
    async def connect(self, engine: AsyncEngine, lock_wait_s: float) -> AsyncConnection:
        """A new connection for the writer, its session set up."""

    @abstractmethod
    def connection_dead(self) -> bool:
        """Whether the writer's connection was noticed closed meanwhile."""

    @abstractmethod
    def forget_connection(self) -> None:
        """The writer's connection was dropped."""

    @abstractmethod
    def transaction(self, conn: AsyncConnection) -> AbstractAsyncContextManager[None]:
        """One transaction of the writer: committed when the block ends without error."""

    @abstractmethod
    async def lock_contacts(self, conn: AsyncConnection, ids: list[str]) -> None:
        """Serialise first-contact conversation creation for these contacts."""

    @abstractmethod
    async def write_plan(
        self, conn: AsyncConnection, plan: Plan, senders: list[NewSender], now: datetime
    ) -> set[str]:
        """Add each first-contact sender's contact, identity and open conversation, then
        insert the plan's messages, outbox, media fetch and (for messages that could move a
        flow) flow trigger rows and set its conversations' counters. Answers the messages
        given a flow trigger row. An identity another process took meanwhile fails the
        transaction (the unique index): its retry finds theirs."""

    async def locked_elsewhere(self, conn: AsyncConnection, ids: list[str]) -> set[str]:
        """Those of ``ids`` that exist and that another session holds locked right now
        (none where a lock wait does not time out)."""
        return set()
