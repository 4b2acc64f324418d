"""The writer on SQLite: lists bound as expanding ``IN``, and no row locks (a transaction
begun by the writer is ``BEGIN IMMEDIATE``, already exclusive: see :mod:`storage.db`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Executable, Select, bindparam, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import flow_triggers
from storage.batch_plan import Plan
from storage.writer_sql import (
    T_CONTACT,
    T_CONV,
    T_FETCH,
    T_IDENT,
    T_MSG,
    T_OUTBOX,
    NewSender,
    WriterSql,
    new_conversation,
)


class SqliteWriterSql(WriterSql):
    def __init__(self) -> None:
        super().__init__()
        self._duplicates = select(T_MSG).where(
            or_(
                self.among(T_MSG.c.id, "ids"),
                tuple_(T_MSG.c.conversation_id, T_MSG.c.client_id).in_(
                    bindparam("clients", expanding=True)
                ),
                tuple_(T_MSG.c.channel_id, T_MSG.c.provider_message_id).in_(
                    bindparam("providers", expanding=True)
                ),
            )
        )
        self._update_conversations = (
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

    def among(self, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
        return column.in_(bindparam(name, expanding=True))

    def with_pairs(
        self, query: Select[Any], a: ColumnElement[Any], b: ColumnElement[Any], name: str
    ) -> Select[Any]:
        return query.where(tuple_(a, b).in_(bindparam(name, expanding=True)))

    def pairs(self, name: str, values: Iterable[tuple[str, str]]) -> dict[str, Any]:
        return {name: list(values)}

    @property
    def lock_conversations(self) -> Select[Any]:
        return self.conversations

    @property
    def duplicates(self) -> Executable:
        return self._duplicates

    async def connect(self, engine: AsyncEngine, lock_wait_s: float) -> AsyncConnection:
        return await engine.connect()

    def connection_dead(self) -> bool:
        return False  # noticed when a statement fails, and then dropped

    def forget_connection(self) -> None:
        """Nothing is kept about the connection."""

    @asynccontextmanager
    async def transaction(self, conn: AsyncConnection) -> AsyncIterator[None]:
        async with conn.begin():
            yield

    async def lock_contacts(self, conn: AsyncConnection, ids: list[str]) -> None:
        """Nothing to lock: the transaction is exclusive."""

    async def write_plan(
        self, conn: AsyncConnection, plan: Plan, senders: list[NewSender], now: datetime
    ) -> set[str]:
        if senders:
            await _add_senders(conn, senders, now)
        if plan.messages:
            await conn.execute(T_MSG.insert(), plan.messages)
            await conn.execute(self._update_conversations, plan.counters)
        if plan.outbox:
            await conn.execute(T_OUTBOX.insert(), plan.outbox)
        if plan.media_fetches:
            await conn.execute(T_FETCH.insert(), plan.media_fetches)
        return await flow_triggers.add(conn, plan.flow_triggers)


async def _add_senders(conn: AsyncConnection, senders: list[NewSender], now: datetime) -> None:
    """First-contact senders' contacts, identities and conversations (counters at zero: the
    plan's update sets them)."""
    await conn.execute(
        T_CONTACT.insert(),
        [
            {
                "id": s.contact_id,
                "workspace_id": s.workspace_id,
                "name": s.name,
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            }
            for s in senders
        ],
    )
    await conn.execute(
        T_IDENT.insert(),
        [
            {
                "id": s.identity_id,
                "workspace_id": s.workspace_id,
                "channel_id": s.channel_id,
                "contact_id": s.contact_id,
                "external_id": s.external_id,
                "created_at": now,
            }
            for s in senders
        ],
    )
    await conn.execute(T_CONV.insert(), [new_conversation(s, now) for s in senders])
