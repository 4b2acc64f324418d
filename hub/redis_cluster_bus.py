"""Redis Cluster sharded pub/sub as the bus: ``SPUBLISH``/``SSUBSCRIBE``.

Each topic is one shard channel, owned by the master that owns its slot, so the cluster
spreads the bus's traffic over its masters instead of broadcasting every message to every
node (which plain ``PUBLISH`` does on a cluster). A workspace's topics share its hash tag,
hence one master: a message's publish is one round trip to one node. A process keeps one
subscriber connection per master.

The listener task owns those connections for one *generation*: learn the slot map, connect
to every master, ``SSUBSCRIBE`` each referenced topic on the master owning it, then read.
Anything that breaks a generation (a connection lost to a killed master, a ``MOVED`` or
``CLUSTERDOWN`` reply, a ``sunsubscribe`` Redis sends when a slot moves away) ends it for
every master: back off (0.1 s doubling to 5 s) and start over with a fresh slot map, and
call ``on_reconnect`` once every topic is confirmed again, as :class:`hub.redis_bus.RedisBus`
does. A doorbell lost meanwhile is healed by that call (the hub re-delivers from the
database) and by the clients' resume. Publishing goes through the cluster client's
pipeline behind a :class:`hub.redis_pipeline.Pipeliner`: a round carries the messages of
many workspaces, grouped by node, nodes in parallel. After an outage, and after a failed
publish, it moves to a fresh client, whose first command reads the current slot map.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError

from hub.bus import BusUnavailable, OnMessage, OnReconnect, Publication
from hub.redis_cluster import cluster_client, parse_cluster_url
from hub.redis_pipeline import Pipeliner
from hub.redis_subscriptions import BACKOFF_CAP_S, BACKOFF_START_S, YIELD_EVERY, Subscriptions

log = logging.getLogger(__name__)

# CANCEL_LOST: on Python 3.11, asyncio.wait_for returns its result instead of raising when
# its task is cancelled just as the awaited call finishes (fixed in 3.12), and redis-py
# wraps every write of a client with a socket timeout in it, as the slot map's client has.
# A close() right after start() could so lose its cancellation while a generation began,
# and the listener went on to read forever (a CI teardown hung for 300 s). So the listener
# also looks at ``_closed`` before it reads, and before it backs off.

PUBLISH_FAILED = "cannot publish to Redis"
RENEW_AFTER_FAILURE_S = 1.0  # a failed publish renews the publishing client at most this often


class GenerationOver(Exception):
    """Redis said a subscription moved away: start a new generation."""


class ClusterBus:
    """:class:`hub.bus.Bus` over Redis Cluster sharded pub/sub (see the protocol)."""

    def __init__(
        self,
        url: str,
        on_message: OnMessage,
        on_reconnect: OnReconnect | None = None,
        *,
        connect_timeout: float = 2.0,
        name: str = "inviaro-bus",
    ) -> None:
        self._on_message = on_message
        self._cluster = parse_cluster_url(url)
        self._connect_timeout = connect_timeout
        self._name = name
        self._client = self._publishing_client()
        self._publisher = Pipeliner(self._client, PUBLISH_FAILED)
        self._retiring: set[asyncio.Task[None]] = set()
        self._renewed_at = 0.0
        self._subs = Subscriptions("redis cluster bus", on_reconnect)
        # This generation's view of the cluster: which master owns which slot.
        self._topology: RedisCluster | None = None
        self._conns: dict[str, AbstractConnection] = {}  # master name -> subscriber
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._leaving: dict[str, int] = {}  # our SUNSUBSCRIBEs not yet confirmed

    async def start(self) -> None:
        if self._task is None:
            self._closed = False
            self._task = asyncio.create_task(self._listen(), name="inviaro-redis-cluster-bus")

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._subs.close()
        await self._publisher.close()
        await self._client.aclose()
        await asyncio.gather(*self._retiring, return_exceptions=True)

    async def ping(self) -> bool:
        """Readiness: True when the cluster's masters answer."""
        try:
            return bool(await self._client.ping())
        except (RedisError, RedisClusterException, OSError):
            return False

    async def publish(self, payload: bytes, *topics: str) -> None:
        await self.publish_many(((payload, topics),))

    async def publish_many(self, publications: Sequence[Publication]) -> None:
        if self._closed:
            raise BusUnavailable("the bus is closed")
        commands = (("SPUBLISH", t, payload) for payload, topics in publications for t in topics)
        try:
            await self._publisher.execute(*commands)
        except BusUnavailable:
            loop = asyncio.get_running_loop()
            if loop.time() - self._renewed_at > RENEW_AFTER_FAILURE_S:
                self._renew_publisher()
            raise

    def _publishing_client(self) -> RedisCluster:
        # Fail fast as RedisBus does: a publish to a master that just died is lost, not
        # retried for seconds on the accept path (the doorbell may drop; resume heals).
        return cluster_client(
            self._cluster,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=self._connect_timeout,
            retry=Retry(NoBackoff(), 1),
        )

    def _renew_publisher(self) -> None:
        """Publish through a fresh client from now on. After a failover the old one's slot
        map may still name the dead master, and its own refresh be backed off after the
        failed ones of the outage: its next publish would fail too."""
        self._renewed_at = asyncio.get_running_loop().time()
        client, publisher = self._client, self._publisher
        self._client = self._publishing_client()
        self._publisher = Pipeliner(self._client, PUBLISH_FAILED)

        async def retire() -> None:
            await publisher.close()  # what is under way finishes on the old client
            await client.aclose()

        task = asyncio.create_task(retire())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def subscribe(self, topic: str) -> None:
        if self._subs.add(topic):
            await self._send("SSUBSCRIBE", topic)
        await self._subs.confirmed(topic)

    async def unsubscribe(self, topic: str) -> None:
        if self._subs.remove(topic) and await self._send("SUNSUBSCRIBE", topic):
            self._leaving[topic] = self._leaving.get(topic, 0) + 1

    def topics(self) -> set[str]:
        return set(self._subs.refs)

    async def _send(self, command: str, topic: str) -> bool:
        """Whether ``command`` went out on the owner's live connection. A lost one is
        made good by the next generation, which subscribes every referenced topic."""
        conn = self._conns.get(self._owner(topic))
        if conn is None or not conn.is_connected:
            return False
        try:
            await conn.send_command(command, topic, check_health=False)
        except (RedisError, OSError) as err:
            log.warning("redis cluster bus: %s not sent (%s); will resubscribe", command, err)
            return False
        return True

    async def _listen(self) -> None:
        delay = BACKOFF_START_S
        while not self._closed:
            try:
                pending = await self._begin_generation()
                if self._closed:  # its cancellation was swallowed (see CANCEL_LOST)
                    return
                if not pending:
                    self._restored()
                delay = BACKOFF_START_S
                await self._read_all(pending)
            except (RedisError, RedisClusterException, GenerationOver, OSError) as err:
                self._subs.lost(err, delay)
            finally:
                conns, self._conns = self._conns, {}
                self._leaving.clear()
                for conn in conns.values():
                    await conn.disconnect(nowait=True)
                topology, self._topology = self._topology, None
                if topology is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await topology.aclose()
            if self._closed:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_CAP_S)

    def _owner(self, topic: str) -> str:
        """The name of the master owning ``topic``'s slot in this generation ('' if none)."""
        if self._topology is None:
            return ""
        try:
            node = self._topology.get_node_from_key(topic)
        except RedisClusterException:  # the slot is not covered: the generation will end
            return ""
        return node.name if node is not None else ""

    async def _begin_generation(self) -> set[str]:
        """Fresh slot map (a client of its own, so nothing of the last generation's view
        survives), a connection per master, every topic sent to its owner; the topics
        still to be confirmed."""
        self._topology = cluster_client(
            self._cluster,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=self._connect_timeout,
        )
        await self._topology.initialize()
        conns: dict[str, AbstractConnection] = {}
        try:
            for master in self._topology.get_primaries():
                conn = self._connection(master.host, int(master.port))
                await conn.connect()  # type: ignore[no-untyped-call]
                conns[master.name] = conn
        except BaseException:
            for conn in conns.values():
                await conn.disconnect(nowait=True)
            raise
        self._conns = conns
        self._subs.connected()
        topics = list(self._subs.refs)
        by_owner: dict[str, list[str]] = {}
        for topic in topics:
            by_owner.setdefault(self._owner(topic), []).append(topic)
        for name, mine in by_owner.items():
            # One SSUBSCRIBE per topic (a command's channels must share a slot), in one write.
            owner = conns.get(name)
            if owner is None:
                raise GenerationOver(f"no master owns {mine[0]} yet")
            await owner.send_packed_command(owner.pack_commands([("SSUBSCRIBE", t) for t in mine]))
        return set(topics)

    def _connection(self, host: str, port: int) -> AbstractConnection:
        kind = SSLConnection if self._cluster.tls else Connection
        return kind(
            host=host,
            port=port,
            username=self._cluster.username,
            password=self._cluster.password,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=None,  # the subscriber reads forever; keepalive finds dead peers
            socket_keepalive=True,
            client_name=self._name,
        )

    async def _read_all(self, pending: set[str]) -> None:
        """Read every master's connection until one of them fails (which ends them all)."""
        readers = [asyncio.create_task(self._read(conn, pending)) for conn in self._conns.values()]
        try:
            done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises what ended the generation
            raise GenerationOver("a subscriber connection closed")
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    async def _read(self, conn: AbstractConnection, pending: set[str]) -> None:
        """Replies of one master; a ``MOVED`` or ``CLUSTERDOWN`` answer raises here."""
        handled = 0
        while True:
            reply = await conn.read_response(push_request=True)
            self._handle(reply, pending)
            if not pending and self._subs.in_outage:
                self._restored()
            handled += 1
            if handled % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    def _handle(self, reply: Any, pending: set[str]) -> None:
        if not isinstance(reply, list) or len(reply) < 3:
            return
        kind = bytes(reply[0])
        topic = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        if kind == b"smessage":
            if topic in self._subs.refs:
                try:
                    self._on_message(topic, bytes(reply[2]))
                except Exception:
                    log.exception("redis cluster bus: handler failed for topic %s", topic)
        elif kind == b"ssubscribe":
            pending.discard(topic)
            self._subs.confirm(topic)
        elif kind == b"sunsubscribe":
            leaving = self._leaving.pop(topic, 0)
            if leaving > 1:
                self._leaving[topic] = leaving - 1
            elif not leaving:  # not ours: Redis dropped it, its slot moved to another master
                raise GenerationOver(f"the slot of {topic} moved")

    def _restored(self) -> None:
        """Every topic is confirmed again: after an outage, publish through a fresh client
        (the old one's slot map may still name a dead master)."""
        if self._subs.restored():
            self._renew_publisher()
