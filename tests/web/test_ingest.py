"""``POST /api/ingest/{channel_id}``: the body as msgspec decodes it, the 422s as they were,
revocation at once, and the door's latency in ``/metrics``."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import msgpack

from tests.conftest import LiveServer
from tests.helpers import Account, auth_headers, signup
from tests.web.realtime import operator_socket


async def custom_channel(client: httpx.AsyncClient) -> tuple[Account, dict[str, Any]]:
    owner = await signup(client)
    channel = (await owner.post("/api/channels", {"kind": "custom", "name": "CRM"})).json()
    return owner, channel


def one(external_id: str, contact: Any = None, **more: Any) -> dict[str, Any]:
    contact = {"external_id": uuid.uuid4().hex} if contact is None else contact
    return {"messages": [{"external_id": external_id, "contact": contact, "text": "hi", **more}]}


async def test_json_and_msgpack_bodies_are_accepted_alike(client: httpx.AsyncClient) -> None:
    _, channel = await custom_channel(client)
    url, headers = f"/api/ingest/{channel['id']}", auth_headers(channel["ingest_token"])
    as_json = await client.post(url, json=one("m-json"), headers=headers)
    packed = msgpack.packb(one("m-pack", sent_at="2026-01-01T00:00:00Z"))
    as_msgpack = await client.post(
        url, content=packed, headers={**headers, "Content-Type": "application/msgpack"}
    )
    assert as_json.status_code == as_msgpack.status_code == 202
    assert [a["external_id"] for a in as_json.json()["accepted"]] == ["m-json"]
    assert [a["external_id"] for a in as_msgpack.json()["accepted"]] == ["m-pack"]
    assert set(as_json.json()["accepted"][0]) == {
        "external_id",
        "message_id",
        "conversation_id",
        "seq",
    }


async def test_numeric_ids_and_padded_ids_are_taken_as_strings(client: httpx.AsyncClient) -> None:
    _, channel = await custom_channel(client)
    response = await client.post(
        f"/api/ingest/{channel['id']}",
        json=one(12345, contact={"external_id": 678, "name": " Ann "}),  # type: ignore[arg-type]
        headers=auth_headers(channel["ingest_token"]),
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"][0]["external_id"] == "12345"


async def test_a_bad_field_deep_in_the_body_is_named_in_the_422(
    client: httpx.AsyncClient,
) -> None:
    _, channel = await custom_channel(client)
    body = one("m-1")
    body["messages"].append({"external_id": "m-2", "contact": {"external_id": "  "}, "text": "x"})
    response = await client.post(
        f"/api/ingest/{channel['id']}", json=body, headers=auth_headers(channel["ingest_token"])
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert "messages[1].contact.external_id" in response.json()["detail"]


async def test_deleting_the_channel_refuses_its_very_next_ingest(
    client: httpx.AsyncClient,
) -> None:
    owner, channel = await custom_channel(client)
    url, headers = f"/api/ingest/{channel['id']}", auth_headers(channel["ingest_token"])
    assert (await client.post(url, json=one("m-1"), headers=headers)).status_code == 202
    assert (await owner.delete(f"/api/channels/{channel['id']}")).status_code == 204
    refused = await client.post(url, json=one("m-2"), headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"


async def test_a_wrong_token_is_refused_while_the_channel_is_cached(
    client: httpx.AsyncClient,
) -> None:
    _, channel = await custom_channel(client)
    url = f"/api/ingest/{channel['id']}"
    good = auth_headers(channel["ingest_token"])
    assert (await client.post(url, json=one("m-1"), headers=good)).status_code == 202
    wrong = await client.post(url, json=one("m-2"), headers=auth_headers("ivi_wrong"))
    assert wrong.status_code == 401


def sample(text: str, name: str, **labels: str) -> float:
    where = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{name}{{{where}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found[1]) if found else 0.0


async def test_ingest_requests_are_timed_under_their_own_door(
    client: httpx.AsyncClient,
) -> None:
    _, channel = await custom_channel(client)
    name = "inviaro_http_request_seconds_count"
    before = sample((await client.get("/metrics")).text, name, door="ingest")
    response = await client.post(
        f"/api/ingest/{channel['id']}",
        json=one("m-1"),
        headers=auth_headers(channel["ingest_token"]),
    )
    assert response.status_code == 202
    text = (await client.get("/metrics")).text
    assert sample(text, name, door="ingest") == before + 1
    assert sample(text, name, door="api") >= 1  # the channel was created through the API


async def test_a_message_fanned_out_to_a_socket_is_timed_in_the_fanout_histogram(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    owner, channel = await custom_channel(client)
    name = "inviaro_fanout_seconds_count"
    sock = await operator_socket(owner, live.ws_url)
    try:
        before = sample((await client.get("/metrics")).text, name)
        response = await client.post(
            f"/api/ingest/{channel['id']}",
            json=one("m-1"),
            headers=auth_headers(channel["ingest_token"]),
        )
        assert response.status_code == 202
        await sock.wait_for(type="message")
        assert sample((await client.get("/metrics")).text, name) > before
    finally:
        await sock.close()


async def test_a_body_nested_past_any_parser_is_a_400(client: httpx.AsyncClient) -> None:
    _, channel = await custom_channel(client)
    deep = b'{"x": ' * 5000 + b"1" + b"}" * 5000
    response = await client.post(
        f"/api/ingest/{channel['id']}",
        content=deep,
        headers={**auth_headers(channel["ingest_token"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_body"
