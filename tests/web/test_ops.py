"""Operations endpoints answer as the contract says."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.helpers import signup


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


async def test_metrics_are_prometheus_text_with_inviaro_names(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "inviaro_writer_commit_seconds" in response.text


async def test_metrics_count_the_writers_one_by_one_retries(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    assert re.search(r"^inviaro_writer_one_by_one_total \d", text, re.M)


async def counted(client: httpx.AsyncClient, series: str) -> float:
    """A histogram's ``_count`` series as /metrics shows it now."""
    text = (await client.get("/metrics")).text
    return float(re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)[1])  # type: ignore[index]


async def ingest_one(client: httpx.AsyncClient, feed: dict[str, Any]) -> None:
    response = await client.post(
        f"/api/ingest/{feed['id']}",
        json={"messages": [{"external_id": "e1", "contact": {"external_id": "c1"}, "text": "hi"}]},
        headers={"Authorization": f"Bearer {feed['ingest_token']}"},
    )
    assert response.status_code == 202, response.text


async def new_feed(client: httpx.AsyncClient) -> dict[str, Any]:
    owner = await signup(client)
    return dict((await owner.post("/api/channels", {"kind": "custom", "name": "Feed"})).json())


async def test_each_accepted_message_is_timed_in_the_accept_histogram(
    client: httpx.AsyncClient,
) -> None:
    feed = await new_feed(client)
    before = await counted(client, "inviaro_accept_seconds_count")
    await ingest_one(client, feed)
    assert await counted(client, "inviaro_accept_seconds_count") == before + 1


async def test_each_accepted_message_is_timed_in_the_queue_and_publish_stages(
    client: httpx.AsyncClient,
) -> None:
    feed = await new_feed(client)
    series = [f'inviaro_stage_seconds_count{{stage="{s}"}}' for s in ("queue", "publish")]
    before = [await counted(client, s) for s in series]
    await ingest_one(client, feed)
    assert [await counted(client, s) for s in series] == [n + 1 for n in before]


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "/no/such/thing" in response.json()["detail"]


async def test_security_headers_are_set(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_readyz_is_200_degraded_while_redis_is_away_and_the_process_stays_up(
    db_url: str,
) -> None:
    from tests.conftest import free_port, make_settings, start_server

    live, server, task = await start_server(
        make_settings(db_url, f"redis://127.0.0.1:{free_port()}/0")
    )
    try:
        async with live.client() as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json() == {
                "status": "degraded",
                "checks": {"database": "ok", "writer": "ok", "redis": "unreachable"},
            }
            assert (await client.get("/healthz")).status_code == 200
    finally:
        server.should_exit = True
        await task
