"""Redis Cluster: the ``redis+cluster://`` URL, the client it makes, and where keys live.

``REDIS_URL=redis+cluster://host:port[,host:port...]`` (``rediss+cluster://`` for TLS,
``user:password@`` before the first node as usual) names a cluster by some of its nodes;
the client learns the rest. Any other URL is one Redis, exactly as before.

A cluster spreads keys over 16,384 slots by a hash of the key, or of the part between the
first ``{`` and ``}`` (the hash tag). A Lua script or a multi-key command must touch keys of
one slot, so every layout that needs that puts one hash tag on all its keys:
:data:`PRESENCE_PREFIX` for presence (its scripts read the process list beside a
workspace's entries). Bus topics carry their workspace id as their hash tag
(:func:`hub.fanout.workspace_topic` and its siblings), so a message's ``SPUBLISH`` to its
workspace and its conversation goes to one node; rate-limit scripts touch one key each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS
PRESENCE_PREFIX = "{presence}"  # one slot for every presence key (see hub.presence)


@dataclass(frozen=True, slots=True)
class ClusterURL:
    """Where a cluster starts: some of its nodes, and how to log in."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in SCHEMES


def parse_cluster_url(url: str) -> ClusterURL:
    """The nodes and credentials in ``url``; ValueError with one sentence if malformed."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"a cluster URL starts with redis+cluster://, not {url!r}")
    if parts.path not in ("", "/", "/0") or parts.query or parts.fragment:
        raise ValueError("a cluster has one database (0) and takes no options in its URL")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    nodes = []
    for address in hosts.split(","):
        host, _, port = address.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"a cluster node is host:port, not {address!r}")
        nodes.append((host.strip("[]"), int(port)))
    return ClusterURL(
        tuple(nodes),
        unquote(username) or None,
        unquote(password) or None,
        SCHEMES[parts.scheme],
    )


def connect(url: str, **options: Any) -> Redis | RedisCluster:
    """A client for ``url``: a :class:`RedisCluster` for a cluster URL, else a :class:`Redis`
    (``options`` are the clients' common keyword arguments: timeouts, decoding)."""
    if not is_cluster_url(url):
        return Redis.from_url(url, **options)
    return cluster_client(parse_cluster_url(url), **options)


def cluster_client(cluster: ClusterURL, **options: Any) -> RedisCluster:
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in cluster.nodes],
        username=cluster.username,
        password=cluster.password,
        ssl=cluster.tls,
        **options,
    )


def slot(key: str) -> int:
    """The cluster slot of ``key`` (its hash tag's, if it has one)."""
    return int(key_slot(key.encode()))
