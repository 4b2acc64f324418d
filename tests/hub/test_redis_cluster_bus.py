"""ClusterBus beyond the shared contract: across processes and masters, surviving a killed
subscriber connection and a killed master; and the redis-py internals it relies on."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import Connection
from redis.exceptions import MovedError

from hub.fanout import conversation_topic, workspace_topic
from hub.model import Author, Inbound
from hub.presence import MemoryPresence
from hub.redis_cluster import cluster_client, parse_cluster_url, slot
from hub.redis_cluster_bus import ClusterBus
from hub.service import Hub
from tests.conftest import unavailable
from tests.hub.conftest import WAIT_S, Recorder, topic
from tests.hub.test_service import MemoryStore
from tests.system.redis_cluster import RedisClusterServers

pytestmark = pytest.mark.redis


def topics_on_every_master(n: int = 30) -> list[str]:
    """Topics whose slots fall in each third of the slot space (one per master)."""
    found: dict[int, list[str]] = {}
    while min((len(v) for v in found.values()), default=0) < n // 3 or len(found) < 3:
        t = f"ws:{uuid.uuid4().hex}"
        found.setdefault(slot(t) * 3 // 16384, []).append(t)
    return [t for ts in found.values() for t in ts[: n // 3]]


async def test_publishes_reach_another_process_on_every_master(hub_cluster_url: str) -> None:
    a, b = Recorder(), Recorder()
    bus_a, bus_b = (
        ClusterBus(hub_cluster_url, a.on_message),
        ClusterBus(hub_cluster_url, b.on_message),
    )
    await bus_a.start()
    await bus_b.start()
    topics = topics_on_every_master()
    for t in topics:
        await bus_b.subscribe(t)
    await bus_a.publish(b"across", *topics)
    await b.until(lambda: len(b.got) == len(topics))
    assert sorted(b.got) == sorted((t, b"across") for t in topics) and a.got == []
    await bus_a.close()
    await bus_b.close()


async def test_a_killed_subscriber_connection_is_replaced_and_the_outage_reported(
    hub_cluster_url: str,
) -> None:
    rec = Recorder()
    name = f"inviaro-test-{uuid.uuid4().hex[:12]}"
    bus = ClusterBus(hub_cluster_url, rec.on_message, rec.on_reconnect, name=name)
    await bus.start()
    topics = topics_on_every_master(3)
    for t in topics:
        await bus.subscribe(t)
    host, port = parse_cluster_url(hub_cluster_url).nodes[0]
    admin = redis.Redis(host=host, port=port)
    try:
        killed = 0
        while not killed:  # the node may be a replica: then try the next one
            for client in await admin.client_list(_type="pubsub"):
                if client.get("name") == name:
                    await admin.execute_command("CLIENT", "KILL", "ID", client["id"])  # type: ignore[no-untyped-call]
                    killed += 1
            if not killed:
                await admin.aclose()
                host, port = parse_cluster_url(hub_cluster_url).nodes[killed + 1]
                admin = redis.Redis(host=host, port=port)
    finally:
        await admin.aclose()
    await rec.until(lambda: bool(rec.reconnects))
    await bus.publish(b"after", *topics)
    await rec.until(lambda: len(rec.got) == len(topics))
    await bus.close()


async def spublish_calls(node: ClusterNode) -> int:
    """SPUBLISH commands the node has run since it started (INFO commandstats)."""
    admin = redis.Redis(host=node.host, port=node.port)
    try:
        stats = await admin.info("commandstats")
    finally:
        await admin.aclose()
    return int(stats.get("cmdstat_spublish", {}).get("calls", 0))


async def test_a_message_s_topics_are_published_to_one_master_in_one_round_trip(
    hub_cluster_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = ClusterBus(hub_cluster_url, Recorder().on_message)
    client = cluster_client(parse_cluster_url(hub_cluster_url))
    try:
        await client.initialize()
        masters = client.get_primaries()
        workspace = f"ws_{uuid.uuid4().hex}"
        owner = client.get_node_from_key(workspace)
        assert owner is not None
        conversation = f"conv_{uuid.uuid4().hex}"
        while client.get_node_from_key(conversation) == owner:  # its own id: another master
            conversation = f"conv_{uuid.uuid4().hex}"
        topics = (workspace_topic(workspace), conversation_topic(workspace, conversation))
        await bus.publish(b"warm", *topics)  # the bus's client learns the slot map
        before = {m.name: await spublish_calls(m) for m in masters}
        # Each round trip is one pipeline to one node (pinned by name: fails on a rename).
        round_trips: list[str] = []
        send = ClusterNode.execute_pipeline

        async def counted(node: ClusterNode, commands: list[Any]) -> bool:
            round_trips.append(node.name)
            return await send(node, commands)

        monkeypatch.setattr(ClusterNode, "execute_pipeline", counted)
        await bus.publish(b"one message", *topics)
        monkeypatch.undo()
        after = {m.name: await spublish_calls(m) for m in masters}
        assert {name: after[name] - before[name] for name in after} == {
            m.name: 2 if m.name == owner.name else 0 for m in masters
        }
        assert round_trips == [owner.name]
    finally:
        await bus.close()
        await client.aclose()


async def test_an_accepted_message_and_its_conversation_are_one_round_trip_to_one_master(
    hub_cluster_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = f"ws_{uuid.uuid4().hex}"
    hub = Hub.create(
        MemoryStore({"c1": workspace}),
        MemoryPresence(ttl_s=75),
        lambda on, back: ClusterBus(hub_cluster_url, on, back),
    )
    client = cluster_client(parse_cluster_url(hub_cluster_url))
    try:
        await client.initialize()
        masters = client.get_primaries()
        owner = client.get_node_from_key(workspace_topic(workspace))
        assert owner is not None
        await hub.bus.publish(b"warm", workspace_topic(workspace))  # the slot map is learnt
        before = {m.name: await spublish_calls(m) for m in masters}
        round_trips: list[str] = []
        send = ClusterNode.execute_pipeline

        async def counted(node: ClusterNode, commands: list[Any]) -> bool:
            round_trips.append(node.name)
            return await send(node, commands)

        monkeypatch.setattr(ClusterNode, "execute_pipeline", counted)
        inbound = Inbound(
            workspace, "ch1", "in", Author("contact", "ct1"), "hi", conversation_id="c1"
        )
        result = await hub.accept(inbound)
        monkeypatch.undo()
        assert result.conversation is not None  # its frame to two topics, the conversation's
        after = {m.name: await spublish_calls(m) for m in masters}
        assert {name: after[name] - before[name] for name in after} == {
            m.name: 3 if m.name == owner.name else 0 for m in masters
        }
        assert round_trips == [owner.name]
    finally:
        await hub.bus.close()
        await client.aclose()


async def test_close_ends_the_listener_even_when_its_cancellation_was_lost(
    hub_cluster_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python 3.11's asyncio.wait_for, which redis-py's timed writes run in, can swallow a
    # cancellation that comes as the write finishes (CANCEL_LOST in hub/redis_cluster_bus.py).
    begin = ClusterBus._begin_generation
    beginning = asyncio.Event()

    async def losing_the_cancellation(self: ClusterBus) -> set[str]:
        beginning.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        return await begin(self)

    monkeypatch.setattr(ClusterBus, "_begin_generation", losing_the_cancellation)
    bus = ClusterBus(hub_cluster_url, Recorder().on_message)
    await bus.start()
    listener = bus._task
    assert listener is not None
    await asyncio.wait_for(beginning.wait(), WAIT_S)
    await asyncio.wait_for(bus.close(), WAIT_S)
    assert listener.done()


@pytest.fixture
async def own_cluster(tmp_path: Path) -> AsyncIterator[RedisClusterServers]:
    servers = RedisClusterServers(tmp_path)
    try:
        servers.start()
    except (OSError, RuntimeError) as exc:
        servers.stop()
        unavailable("Redis Cluster", str(exc))
    yield servers
    servers.stop()


@pytest.mark.slow
async def test_after_a_master_is_killed_the_bus_resubscribes_on_its_replica(
    own_cluster: RedisClusterServers,
) -> None:
    rec = Recorder()
    bus = ClusterBus(own_cluster.url, rec.on_message, rec.on_reconnect)
    publisher = ClusterBus(own_cluster.url, Recorder().on_message)
    await bus.start()
    await publisher.start()
    topics = topics_on_every_master()
    for t in topics:
        await bus.subscribe(t)
    await publisher.publish(b"before", *topics)
    await rec.until(lambda: len(rec.got) == len(topics))
    own_cluster.kill(own_cluster.master_ports()[0])
    await asyncio.to_thread(own_cluster.wait_healthy)
    await rec.until(lambda: bool(rec.reconnects))
    # Every topic is heard again, those of the dead master's slots on the promoted replica.
    for _ in range(100):
        rec.got.clear()
        try:
            await publisher.publish(b"after", *topics)
            await asyncio.wait_for(rec.until(lambda: len(rec.got) == len(topics)), 1.0)
            break
        except Exception:  # the publisher's slot map may still name the dead master
            await asyncio.sleep(0.1)
    assert sorted(rec.got) == sorted((t, b"after") for t in topics)
    await bus.close()
    await publisher.close()


# What ClusterBus relies on below redis-py's public API (docs/internals.md), pinned beside
# what RedisBus relies on (tests/hub/test_redis_bus_pins.py: the connection-level calls).


async def test_a_fresh_cluster_client_names_the_masters_and_each_key_s_owner(
    hub_cluster_url: str,
) -> None:
    client = cluster_client(parse_cluster_url(hub_cluster_url))
    try:
        await client.initialize()
        masters = {node.name for node in client.get_primaries()}
        assert len(masters) == 3
        owners = {client.get_node_from_key(f"ws:{n}").name for n in range(100)}  # type: ignore[union-attr]
        assert owners == masters
    finally:
        await client.aclose()


async def test_shard_replies_read_as_three_item_lists_and_a_wrong_node_answers_moved(
    hub_cluster_url: str,
) -> None:
    client = cluster_client(parse_cluster_url(hub_cluster_url))
    name = topic()
    try:
        await client.initialize()
        owner = client.get_node_from_key(name)
        assert owner is not None
        other = next(n for n in client.get_primaries() if n.name != owner.name)
        right = Connection(host=owner.host, port=owner.port)
        wrong = Connection(host=other.host, port=other.port)
        for conn in (right, wrong):
            await conn.connect()  # type: ignore[no-untyped-call]
        await wrong.send_command("SSUBSCRIBE", name, check_health=False)
        with pytest.raises(MovedError):
            await asyncio.wait_for(wrong.read_response(push_request=True), WAIT_S)
        await right.send_packed_command(right.pack_commands([("SSUBSCRIBE", name)]))
        confirmed = await asyncio.wait_for(right.read_response(push_request=True), WAIT_S)
        assert [bytes(confirmed[0]), confirmed[1]] == [b"ssubscribe", name.encode()]
        assert await client.execute_command("SPUBLISH", name, b"\x01") == 1
        message = await asyncio.wait_for(right.read_response(push_request=True), WAIT_S)
        assert [bytes(message[0]), message[1], bytes(message[2])] == [
            b"smessage",
            name.encode(),
            b"\x01",
        ]
        for conn in (right, wrong):
            await conn.disconnect(nowait=True)
    finally:
        await client.aclose()
