"""The SQL implementation of :class:`hub.store.MessageStore`, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.model import Inbound, Message
from hub.store import NotFound, Receipt, WriteResult
from storage import faults
from storage import models as m
from storage.faults import StorageHealth
from storage.group_commit import Observe
from storage.serialize import message_from_row
from storage.writer import BatchingWriter

T_MSG = m.table_of(m.Message)
T_CONV = m.table_of(m.Conversation)


class SqlStore:
    def __init__(
        self, engine: AsyncEngine, *, observe: Observe | None = None, max_backlog: int = 10_000
    ) -> None:
        self.engine = engine
        self.health = StorageHealth()
        self.writer = BatchingWriter(
            engine, observe=observe, max_backlog=max_backlog, health=self.health
        )

    async def close(self) -> None:
        await self.writer.close()

    async def can_write(self, timeout_s: float = 2.0) -> bool:
        """Whether a message could be stored now: the database answers, and the locks the
        writer's statements take on messages and conversations are granted within a
        bounded wait (a table locked by a migration or by hand says no). Notes the outcome
        in :attr:`health`."""
        try:
            async with asyncio.timeout(timeout_s), self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    wait_ms = int(timeout_s * 500)
                    await conn.execute(text(f"SET LOCAL lock_timeout = {wait_ms}"))
                    await conn.execute(text(f"SET LOCAL statement_timeout = {wait_ms}"))
                    await conn.execute(
                        text("LOCK TABLE messages, conversations IN ROW EXCLUSIVE MODE")
                    )
                else:
                    await conn.execute(select(1))
                await conn.rollback()
        except Exception as exc:
            if not faults.is_outage(exc):
                raise
            self.health.failed(exc)
            return False
        self.health.ok()
        return True

    async def write(self, inbound: Inbound) -> WriteResult:
        return await self.writer.write(inbound)

    @staticmethod
    async def _require_owner(
        conn: AsyncConnection, workspace_id: str, conversation_id: str
    ) -> None:
        owner = await conn.scalar(
            select(T_CONV.c.workspace_id).where(T_CONV.c.id == conversation_id)
        )
        if owner != workspace_id:
            raise NotFound("no such conversation in this workspace")

    async def check_owner(self, workspace_id: str, conversation_id: str) -> None:
        async with self.engine.connect() as conn:
            await self._require_owner(conn, workspace_id, conversation_id)

    async def replay(
        self,
        workspace_id: str,
        conversation_id: str,
        after_seq: int,
        limit: int,
        include_private: bool = True,
    ) -> list[Message]:
        query = select(T_MSG).where(
            T_MSG.c.conversation_id == conversation_id, T_MSG.c.seq > after_seq
        )
        if not include_private:
            query = query.where(T_MSG.c.private.is_(False))
        async with self.engine.connect() as conn:
            await self._require_owner(conn, workspace_id, conversation_id)
            rows = await conn.execute(query.order_by(T_MSG.c.seq).limit(limit))
            return [message_from_row(r) for r in rows]

    async def messages_since(
        self, workspace_ids: list[str], since: datetime, limit: int, after: Message | None = None
    ) -> list[Message]:
        if not workspace_ids:
            return []
        order = (T_MSG.c.created_at, T_MSG.c.conversation_id, T_MSG.c.seq)
        query = select(T_MSG).where(
            T_MSG.c.workspace_id.in_(workspace_ids), T_MSG.c.created_at >= since
        )
        if after is not None:
            query = query.where(
                tuple_(*order) > (after.created_at, after.conversation_id, after.seq)
            )
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(*order).limit(limit))
            return [message_from_row(r) for r in rows]

    async def last_seq(self, workspace_id: str, conversation_id: str) -> int:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(T_CONV.c.workspace_id, T_CONV.c.last_seq).where(
                        T_CONV.c.id == conversation_id
                    )
                )
            ).first()
        if row is None or row.workspace_id != workspace_id:
            raise NotFound("no such conversation in this workspace")
        return int(row.last_seq or 0)

    async def mark_read(self, workspace_id: str, conversation_id: str, seq: int) -> list[Receipt]:
        async with self.engine.begin() as conn:
            await self._require_owner(conn, workspace_id, conversation_id)
            rows = await conn.execute(
                update(T_MSG)
                .where(
                    T_MSG.c.conversation_id == conversation_id,
                    T_MSG.c.direction == "out",
                    T_MSG.c.seq <= seq,
                    T_MSG.c.status.in_(("queued", "sending", "sent", "delivered")),
                )
                .values(status="read")
                .returning(T_MSG.c.id)
            )
            return [Receipt(workspace_id, conversation_id, r.id, "read") for r in rows]
