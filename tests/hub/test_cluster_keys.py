"""Where things live on a Redis Cluster: the ``redis+cluster://`` URL, and the key and
channel scheme that keeps every script and multi-key call inside one slot."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from hub.fanout import conversation_topic, operator_topic, workspace_topic
from hub.presence import _SEP, RedisPresence
from hub.redis_cluster import (
    PRESENCE_PREFIX,
    ClusterURL,
    connect,
    is_cluster_url,
    parse_cluster_url,
    slot,
)
from web.config import ConfigError, load

KEY = "k" * 40


def test_a_cluster_url_names_its_nodes() -> None:
    assert parse_cluster_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7001") == ClusterURL(
        (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    )


def test_a_cluster_url_carries_credentials_and_tls() -> None:
    cluster = parse_cluster_url("rediss+cluster://app:s%40cret@redis-a:6379,redis-b:6379/0")
    assert cluster.username == "app" and cluster.password == "s@cret" and cluster.tls
    assert cluster.nodes == (("redis-a", 6379), ("redis-b", 6379))


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://host",
        "redis+cluster://host:port",
        "redis+cluster://a:7000,:7001",
        "redis+cluster://a:70000",
        "redis+cluster://a:7000/3",
        "redis+cluster://a:7000?timeout=1",
    ],
)
def test_a_malformed_cluster_url_is_refused_in_one_sentence(url: str) -> None:
    with pytest.raises(ValueError):
        parse_cluster_url(url)
    with pytest.raises(ConfigError) as refused:
        load({"INVIARO_SECRET_KEY": KEY, "DATABASE_URL": "sqlite://", "REDIS_URL": url})
    assert str(refused.value).startswith("REDIS_URL")


def test_the_settings_accept_a_cluster_url() -> None:
    url = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"
    settings = load({"INVIARO_SECRET_KEY": KEY, "DATABASE_URL": "sqlite://", "REDIS_URL": url})
    assert settings.redis_url == url and not settings.run_worker


async def test_only_a_cluster_url_makes_a_cluster_client() -> None:
    single, cluster = connect("redis://127.0.0.1:1/0"), connect("redis+cluster://127.0.0.1:1")
    assert isinstance(single, Redis) and isinstance(cluster, RedisCluster)
    assert is_cluster_url("redis+cluster://h:1") and not is_cluster_url("redis://h:1")
    await single.aclose()
    await cluster.aclose()


def test_a_workspace_s_topics_all_hash_to_its_id_s_slot() -> None:
    # The workspace id is each topic's hash tag: one slot, one master, for all of them.
    workspace = "ws_01JF3Q8V6Z4K2M9T7R5B1C0D8E"
    topics = [
        workspace_topic(workspace),
        conversation_topic(workspace, "conv_01JF3Q8V6Z4K2M9T7R5B1C0D8F"),
        operator_topic(workspace, "op_01JF3Q8V6Z4K2M9T7R5B1C0D8G"),
    ]
    assert {slot(t) for t in topics} == {key_slot(workspace.encode())}


def test_workspaces_spread_over_the_slot_space() -> None:
    topics = [conversation_topic(f"ws_{n}", "c1") for n in range(200)]
    assert len({slot(t) * 3 // 16384 for t in topics}) == 3  # all three thirds are used


async def test_every_presence_key_is_in_the_one_presence_slot() -> None:
    presence = RedisPresence("redis+cluster://127.0.0.1:1", 30.0)
    try:
        keys = [*presence._keys("ws_a", "op_a"), *presence._keys("ws_b", "op_b")]
        # The refresh script builds a dead process's keys from the prefix it is given.
        keys.append(f"{presence._prefix}presence:proc{_SEP}proc_dead")
        assert {slot(key) for key in keys} == {slot(PRESENCE_PREFIX)}
    finally:
        await presence.close()


async def test_single_redis_presence_keys_are_unchanged() -> None:
    presence = RedisPresence("redis://127.0.0.1:1/0", 30.0)
    try:
        assert presence._keys("w", "o")[:2] == ["presence:w", f"presence:w{_SEP}o"]
    finally:
        await presence.close()
