"""Hub.accept and Session dispatch, over a minimal in-memory MessageStore.

The store here is a test double on purpose (the real storage lands in parallel); it does
only what the protocol promises: seq per conversation, idempotency on client_id, NotFound.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import msgpack
import orjson
import pytest

from hub.bus import MemoryBus
from hub.codec import Format
from hub.fanout import Connection
from hub.model import Inbound, Message, utcnow
from hub.presence import MemoryPresence
from hub.ratelimit import TokenBucket
from hub.service import Hub, OperatorPrincipal, VisitorPrincipal
from hub.session import Session
from hub.store import NotFound, Receipt, WriteResult
from tests.helpers import inbound
from tests.hub.conftest import WAIT_S


class MemoryStore:
    def __init__(self, conversations: dict[str, str]) -> None:
        self.conversations = conversations  # conversation id -> workspace id
        self.messages: list[Message] = []

    def _check(self, workspace_id: str, conversation_id: str | None) -> str:
        if conversation_id is None or self.conversations.get(conversation_id) != workspace_id:
            raise NotFound(conversation_id)
        return conversation_id

    async def write(self, inbound: Inbound) -> WriteResult:
        conv = self._check(inbound.workspace_id, inbound.conversation_id)
        for m in self.messages:
            if inbound.client_id and m.client_id == inbound.client_id:
                return WriteResult(m, created=False)
        seq = sum(m.conversation_id == conv for m in self.messages) + 1
        msg = Message(
            inbound.id,
            inbound.workspace_id,
            conv,
            seq,
            inbound.direction,
            inbound.author,
            inbound.text,
            (),
            inbound.status,
            utcnow(),
            inbound.client_id,
            private=inbound.private,
        )
        self.messages.append(msg)
        return WriteResult(msg, created=True, conversation={"id": conv} if seq == 1 else None)

    async def check_owner(self, workspace_id: str, conversation_id: str) -> None:
        self._check(workspace_id, conversation_id)

    async def replay(
        self,
        workspace_id: str,
        conversation_id: str,
        after_seq: int,
        limit: int,
        include_private: bool = True,
    ) -> list[Message]:
        self._check(workspace_id, conversation_id)
        found = [
            m
            for m in self.messages
            if m.conversation_id == conversation_id
            and m.seq > after_seq
            and (include_private or not m.private)
        ]
        return found[:limit]

    async def messages_since(
        self, workspace_ids: list[str], since: datetime, limit: int, after: Message | None = None
    ) -> list[Message]:
        found = [
            m for m in self.messages if m.workspace_id in workspace_ids and m.created_at >= since
        ]
        if after is not None:
            found = found[found.index(after) + 1 :]
        return found[:limit]

    async def last_seq(self, workspace_id: str, conversation_id: str) -> int:
        conv = self._check(workspace_id, conversation_id)
        return max((m.seq for m in self.messages if m.conversation_id == conv), default=0)

    async def mark_read(self, workspace_id: str, conversation_id: str, seq: int) -> list[Receipt]:
        self._check(workspace_id, conversation_id)
        return [
            Receipt(workspace_id, conversation_id, m.id, "read")
            for m in self.messages
            if m.conversation_id == conversation_id and m.direction == "out" and m.seq <= seq
        ]


class Client:
    """One socket as a test sees it: decoded frames in arrival order."""

    def __init__(self, hub: Hub, principal: Any, fmt: Format = "json") -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed_with: int | None = None
        self._changed = asyncio.Event()
        self.conn: Connection = hub.registry.connect(fmt, self._send, self._close)
        self.session = Session(hub, principal, self.conn, TokenBucket(1000, 1000))

    async def _send(self, data: str | bytes) -> None:
        self.frames.append(orjson.loads(data) if isinstance(data, str) else msgpack.unpackb(data))
        self._changed.set()

    async def _close(self, code: int) -> None:
        self.closed_with = code
        self._changed.set()

    async def send(self, **frame: Any) -> None:
        await self.session.receive(orjson.dumps(frame).decode())

    async def until(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        async def loop() -> None:
            while len(self.of(kind)) < count and self.closed_with is None:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), WAIT_S)
        return self.of(kind)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]


OPERATOR = OperatorPrincipal("w1", "op1", "Olga")
VISITOR = VisitorPrincipal("w1", "c1", "ch1", "ct1", "Vic")


@pytest.fixture
def hub() -> Hub:
    store = MemoryStore({"c1": "w1", "c2": "w1", "other": "w2"})
    return Hub.create(store, MemoryPresence(ttl_s=75), MemoryBus)


async def opened(hub: Hub, principal: Any, fmt: Format = "json") -> Client:
    client = Client(hub, principal, fmt)
    await client.session.open()
    await client.until("hello")
    return client


async def test_accept_reaches_operators_and_the_visitor(hub: Hub) -> None:
    op, vis = await opened(hub, OPERATOR), await opened(hub, VISITOR, "msgpack")
    result = await hub.accept(inbound())
    [frame] = await op.until("message")
    assert frame["message"]["id"] == result.message.id and frame["message"]["seq"] == 1
    assert (await vis.until("message"))[0]["message"]["text"] == "hello"
    assert (await op.until("conversation"))[0]["conversation"] == {"id": "c1"}
    assert vis.of("conversation") == []


async def test_accept_falls_back_to_local_delivery_when_the_bus_is_down(hub: Hub) -> None:
    op = await opened(hub, OPERATOR)
    await hub.bus.close()
    result = await hub.accept(inbound())
    assert result.created
    assert (await op.until("message"))[0]["message"]["id"] == result.message.id


async def test_during_a_bus_outage_a_message_and_its_conversation_arrive_locally_in_order(
    hub: Hub,
) -> None:
    op = await opened(hub, OPERATOR)
    await hub.bus.close()
    await hub.accept(inbound())
    await op.until("conversation")
    kinds = [f["type"] for f in op.frames if f["type"] in ("message", "conversation")]
    assert kinds == ["message", "conversation"]


async def test_visitor_send_is_acked_and_idempotent(hub: Hub) -> None:
    op, vis = await opened(hub, OPERATOR), await opened(hub, VISITOR)
    await vis.send(type="send", ref="r1", text="hi", client_id="k1")
    await vis.send(type="send", ref="r2", text="hi", client_id="k1")
    acks = await vis.until("ack", 2)
    assert [a["ref"] for a in acks] == ["r1", "r2"]
    assert acks[0]["message"]["id"] == acks[1]["message"]["id"]
    assert (await op.until("message"))[0]["message"]["author"]["kind"] == "contact"


async def test_visitor_cannot_write_into_another_conversation(hub: Hub) -> None:
    vis = await opened(hub, VISITOR)
    await vis.send(type="send", ref=1, conversation_id="c2", text="sneaky")
    [error] = await vis.until("error")
    assert (error["code"], error["ref"]) == ("forbidden", 1)


async def test_operator_send_needs_a_conversation_of_its_workspace(hub: Hub) -> None:
    op = await opened(hub, OPERATOR)
    await op.send(type="send", ref="a", text="no conversation")
    await op.send(type="send", ref="b", conversation_id="other", text="not ours")
    await op.send(type="send", ref="c", conversation_id="c1", text="reply")
    errors = await op.until("error", 2)
    assert [(e["code"], e["ref"]) for e in errors] == [("bad_frame", "a"), ("not_found", "b")]
    [ack] = await op.until("ack")
    assert ack["message"]["direction"] == "out" and ack["message"]["author"]["id"] == "op1"


async def test_resume_replays_every_page_in_order_then_resumed(hub: Hub) -> None:
    for i in range(1203):
        await hub.store.write(inbound(f"m{i}"))
    vis = await opened(hub, VISITOR)
    await vis.send(type="resume", conversation_id="c1", after_seq=2)
    [done] = await vis.until("resumed")
    assert [f["message"]["seq"] for f in vis.of("message")] == list(range(3, 1204))
    assert done == {"type": "resumed", "conversation_id": "c1", "last_seq": 1203}
    assert vis.closed_with is None


async def test_typing_and_read_receipts(hub: Hub) -> None:
    op, vis = await opened(hub, OPERATOR), await opened(hub, VISITOR)
    await op.send(type="typing", conversation_id="c1", active=True)
    assert (await vis.until("typing"))[0]["author"]["kind"] == "operator"
    await vis.send(type="typing", active=True)
    typing = await op.until("typing", 2)
    assert typing[1]["author"] == {"kind": "contact", "id": "ct1", "name": "Vic"}
    assert len(vis.of("typing")) == 1  # a visitor never hears its own typing
    await op.send(type="send", ref="r", conversation_id="c1", text="answer")
    [ack] = await op.until("ack")
    await vis.send(type="read", conversation_id="c1", seq=ack["message"]["seq"])
    [receipt] = await op.until("receipt")
    assert receipt["message_id"] == ack["message"]["id"] and receipt["status"] == "read"


async def test_operator_typing_into_another_workspace_is_not_found(hub: Hub) -> None:
    op = await opened(hub, OPERATOR)
    await op.send(type="typing", conversation_id="other", active=True)
    assert (await op.until("error"))[0]["code"] == "not_found"


async def test_bad_input_is_answered_and_oversized_frames_close_1009(hub: Hub) -> None:
    op = await opened(hub, OPERATOR)
    await op.session.receive("{not json")
    await op.send(type="ping")
    assert (await op.until("error"))[0]["code"] == "bad_frame"
    await op.until("pong")
    await op.session.receive('{"type":"ping","x":"' + "x" * 70_000 + '"}')
    await op.until("never")
    assert op.closed_with == 1009


async def test_rate_limited(hub: Hub) -> None:
    vis = await opened(hub, VISITOR)
    vis.session = Session(hub, VISITOR, vis.conn, TokenBucket(rate=0.001, burst=1))
    await vis.send(type="typing", active=True)
    await vis.send(type="send", ref="x", text="too fast")
    [error] = await vis.until("error")
    assert (error["code"], error["ref"]) == ("rate_limited", "x")


async def test_presence_frames_on_first_and_last_socket(hub: Hub) -> None:
    watcher = await opened(hub, OperatorPrincipal("w1", "op2"))
    first = await opened(hub, OPERATOR)
    second = await opened(hub, OPERATOR)
    await first.session.close()
    await second.session.close()
    presence = await watcher.until("presence", 3)
    assert presence == [
        {"type": "presence", "operator_id": "op2", "online": True},
        {"type": "presence", "operator_id": "op1", "online": True},
        {"type": "presence", "operator_id": "op1", "online": False},
    ]


async def test_bus_reconnect_redelivers_from_the_store(hub: Hub) -> None:
    op = await opened(hub, OPERATOR)
    since = utcnow() - timedelta(seconds=1)
    missed = await hub.store.write(inbound("missed while the bus was away"))
    hub.on_bus_reconnect(since)
    [frame] = await op.until("message")
    assert frame["message"]["id"] == missed.message.id
    await hub.close()


async def test_bus_reconnect_redelivers_more_than_a_page_and_the_queue_without_a_cut() -> None:
    store = MemoryStore({"c1": "w1"})
    hub = Hub.create(store, MemoryPresence(ttl_s=75), MemoryBus, queue_bound=8)
    op = await opened(hub, OPERATOR)
    since = utcnow() - timedelta(seconds=1)
    missed = [(await store.write(inbound(f"m{n}"))).message.id for n in range(1200)]
    hub.on_bus_reconnect(since)
    got = await op.until("message", 1200)
    assert [f["message"]["id"] for f in got] == missed and op.closed_with is None
    await hub.close()


async def test_a_bus_outage_is_logged_once_and_its_end_with_a_count(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    await opened(hub, OPERATOR)
    await hub.accept(inbound("before"))  # the conversation's first message is two publishes
    await hub.bus.close()
    for n in range(20):
        await hub.accept(inbound(f"during {n}"))
    await hub.bus.start()
    await hub.accept(inbound("after"))
    said = [r.getMessage() for r in caplog.records if r.name == "hub.service"]
    assert len(said) == 2
    assert said[0].startswith("bus unavailable") and "20 publishes" in said[1]


async def test_a_burst_of_pings_is_answered_without_cutting_the_socket(hub: Hub) -> None:
    op = await opened(hub, OPERATOR)
    for _ in range(300):
        await op.send(type="ping")
    assert len(await op.until("pong", 300)) == 300 and op.closed_with is None


async def test_a_rate_limited_resume_names_its_conversation(hub: Hub) -> None:
    op = await opened(hub, OPERATOR)
    op.session = Session(
        hub, OPERATOR, op.conn, TokenBucket(1000, 1000), resume_rate=TokenBucket(0.001, 1)
    )
    await op.send(type="resume", conversation_id="c1", after_seq=0)
    await op.send(type="resume", conversation_id="c2", after_seq=0)
    [error] = await op.until("error")
    assert (error["code"], error["conversation_id"]) == ("rate_limited", "c2")
    await op.send(type="send", conversation_id="c1", ref="s", text="sends keep their budget")
    await op.until("ack")
