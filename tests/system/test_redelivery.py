"""After a Redis outage each hub re-delivers from the database what the bus dropped: all of
it, however much, to every socket that keeps reading, without cutting any of them off."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.helpers import Account, new_client, signup
from tests.system.conftest import Cluster, Hub
from tests.web.realtime import operator_socket, visitor_session, visitor_socket, widget_channel

pytestmark = pytest.mark.slow

BATCH = 1000  # the ingest API's largest batch


async def _owner(cluster: Cluster, closer: list[Any]) -> Account:
    client = new_client(cluster.hubs[0].url)
    closer.append(client)
    return await signup(client)


async def _ingest_during_outage(owner: Account, via: Hub, count: int, closer: list[Any]) -> None:
    """``count`` messages written through ``via`` while Redis is down: ``via`` rings
    nobody else, so every other process misses all of them live."""
    channel = (await owner.post("/api/channels", {"kind": "custom", "name": "Feed"})).json()
    feed = httpx.AsyncClient(base_url=via.url, timeout=120)
    closer.append(feed)
    for start in range(0, count, BATCH):
        response = await feed.post(
            f"/api/ingest/{channel['id']}",
            json={
                "messages": [
                    {"external_id": f"m{n}", "contact": {"external_id": f"c{n % 40}"}, "text": "x"}
                    for n in range(start, min(start + BATCH, count))
                ]
            },
            headers={"Authorization": f"Bearer {channel['ingest_token']}"},
        )
        assert response.status_code == 202, response.text


async def test_a_redis_outage_redelivers_thousands_to_a_reading_operator_without_a_cut(  # type: ignore[no-untyped-def]
    cluster: Cluster, closer: list[Any]
) -> None:
    a, b = cluster.hubs
    owner = await _owner(cluster, closer)
    operator = await operator_socket(owner, a.ws_url)
    cluster.redis.kill()
    await _ingest_during_outage(owner, b, 2000, closer)
    cluster.redis.start()
    await cluster.redis.wait_ready()
    # Process A resubscribes and re-delivers all 2,000 into the one socket; it reads
    # them all, and is never closed for it (before: 1013 as the queue overflowed).
    received = await operator.messages(2000)
    assert len(received) == 2000
    await operator.send({"type": "ping"})
    await operator.wait_for(type="pong")


async def test_more_than_ten_thousand_missed_still_reach_an_idle_visitor(  # type: ignore[no-untyped-def]
    cluster: Cluster, closer: list[Any]
) -> None:
    # The visitor's reply comes last, after more missed messages than one re-delivery
    # query used to return (10,000, oldest first): it must still arrive, or the visitor
    # must be told to resume (1013); never silently nothing.
    b = cluster.hubs[1]
    owner = await _owner(cluster, closer)
    session = await visitor_session(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    conv = session["conversation_id"]
    await visitor.send({"type": "send", "ref": 1, "text": "anyone there?"})
    await visitor.wait_for(type="ack", ref=1)
    cluster.redis.kill()
    await _ingest_during_outage(owner, b, 10_500, closer)
    reply = await owner.client.post(
        f"{b.url}/api/conversations/{conv}/messages",
        json={"text": "the reply"},
        headers=owner.csrf,
    )
    assert reply.status_code == 201, reply.text
    cluster.redis.start()
    await cluster.redis.wait_ready()
    try:
        while (await visitor.wait_for(type="message"))["message"]["text"] != "the reply":
            pass  # its own message, re-delivered too
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 1013
