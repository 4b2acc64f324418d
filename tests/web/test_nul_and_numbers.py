"""The attack: a NUL (U+0000) in any string, or a number Python or the database cannot
hold, sent to the unauthenticated and authenticated doors. Postgres cannot store a NUL
and a 32-bit column cannot compare 10**22: each used to be a 500 whose log printed the
statement's parameters (emails, names, password hashes). Each is now a 422 with a
sentence, on both databases, and nothing personal reaches the log.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx
import msgpack
import orjson
import pytest
from sqlalchemy import text

from storage.db import make_engine
from tests.conftest import LiveServer
from tests.helpers import Account, new_client, signup, unique_email
from tests.web.realtime import (
    ORIGIN,
    close_all_sockets,
    visitor_session,
    visitor_socket,
    widget_channel,
)

NUL = "\x00"


@pytest.fixture
async def owner(live: LiveServer) -> Any:
    async with new_client(live.url) as client:
        yield await signup(client)
    await close_all_sockets()


async def custom_message(owner: Account) -> dict[str, Any]:
    """A contact's message through a custom channel: its contact and conversation."""
    response = await owner.post("/api/channels", {"kind": "custom", "name": "Shop", "config": {}})
    assert response.status_code == 201, response.text
    channel = response.json()
    response = await owner.client.post(
        f"/api/ingest/{channel['id']}",
        json={"messages": [{"external_id": "m1", "contact": {"external_id": "c1"}, "text": "hi"}]},
        headers={"Authorization": f"Bearer {channel['ingest_token']}"},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()["accepted"][0]
    return {**accepted, "channel": channel}


def assert_nul_refused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid" and "NUL" in body["detail"]


async def test_a_nul_in_signup_is_a_422_and_the_email_never_reaches_the_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    email = unique_email()
    caplog.set_level(logging.DEBUG)
    response = await client.post(
        "/api/signup",
        json={"workspace": "Acme", "name": "Ada" + NUL, "email": email, "password": "x" * 12},
    )
    assert_nul_refused(response)
    assert email not in caplog.text


async def test_a_nul_in_login_is_a_422_and_the_email_never_reaches_the_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    email = unique_email()
    caplog.set_level(logging.DEBUG)
    response = await client.post(
        "/api/login", json={"email": email + NUL, "password": "correct horse"}
    )
    assert_nul_refused(response)
    assert email not in caplog.text


@pytest.mark.parametrize(
    "patch",
    [
        {"name": "Bo" + NUL},
        {"phone": "+387 61 000" + NUL},
        {"attributes": {"plan" + NUL: "gold"}},
        {"attributes": {"plan": ["gold", {"deep": NUL}]}},
    ],
    ids=["name", "phone", "attribute-key", "nested-value"],
)
async def test_a_nul_in_a_contact_patch_is_a_422(
    owner: Account, caplog: pytest.LogCaptureFixture, patch: dict[str, Any]
) -> None:
    conversation = (await custom_message(owner))["conversation_id"]
    contact_id = (await owner.get(f"/api/conversations/{conversation}")).json()["contact"]["id"]
    caplog.set_level(logging.DEBUG)
    assert_nul_refused(await owner.patch(f"/api/contacts/{contact_id}", patch))
    assert owner.email not in caplog.text


async def test_a_nul_in_a_widget_key_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/widget/sessions", json={"key": "pk_" + NUL}, headers={"Origin": ORIGIN}
    )
    assert_nul_refused(response)


async def test_a_nul_in_an_ingest_body_is_a_422_in_json_and_msgpack(owner: Account) -> None:
    channel = (await custom_message(owner))["channel"]
    item = {"external_id": "m2", "contact": {"external_id": "c" + NUL}, "text": "hi"}
    headers = {"Authorization": f"Bearer {channel['ingest_token']}"}
    url = f"/api/ingest/{channel['id']}"
    assert_nul_refused(await owner.client.post(url, json={"messages": [item]}, headers=headers))
    packed = msgpack.packb({"messages": [item]})
    headers["Content-Type"] = "application/msgpack"
    assert_nul_refused(await owner.client.post(url, content=packed, headers=headers))


@pytest.mark.parametrize(
    "url", ["/api/contacts/ct%00x", "/api/conversations?status=open%00", "/api/me?x=%00"]
)
async def test_a_nul_in_the_url_is_a_422(owner: Account, url: str) -> None:
    assert_nul_refused(await owner.get(url))


async def test_a_nul_in_a_socket_frame_is_a_bad_frame_and_nothing_is_stored(
    owner: Account,
) -> None:
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    visitor = await visitor_socket(session["ws_url"])
    await visitor.send({"type": "send", "ref": "r1", "text": "hello" + NUL})
    error = await visitor.wait_for(type="error", ref="r1")
    assert error["code"] == "bad_frame" and "NUL" in error["detail"]
    await visitor.send({"type": "send", "ref": "r2", "text": "hello", "client_id": "c" + NUL})
    assert (await visitor.wait_for(type="error", ref="r2"))["code"] == "bad_frame"
    conversations = (await owner.get("/api/conversations")).json()["items"]
    assert [c["last_seq"] for c in conversations] in ([], [0])


async def test_a_failed_statement_keeps_its_parameters_out_of_its_message(db_url: str) -> None:
    """What a 500's traceback prints is the exception's text: no parameters in it."""
    email = unique_email()
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            with pytest.raises(Exception) as caught:
                await conn.execute(text("INSERT INTO no_such_table VALUES (:e)"), {"e": email})
    finally:
        await engine.dispose()
    assert "no_such_table" in str(caught.value)
    assert email not in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["²", "99999999999999999999999", "2147483648", "-1", "1e3", " 1", "0x10", "١"],
)
async def test_a_seq_query_parameter_must_be_a_plain_number_within_the_column(
    owner: Account, value: str
) -> None:
    conversation = (await custom_message(owner))["conversation_id"]
    url = f"/api/conversations/{conversation}/messages"
    for name in ("after_seq", "before_seq"):
        response = await owner.get(url, params={name: value})
        assert response.status_code == 422, (name, response.text)
        assert response.json()["detail"].startswith(f"The query parameter '{name}'")


async def test_a_seq_query_parameter_at_the_column_maximum_is_answered(owner: Account) -> None:
    conversation = (await custom_message(owner))["conversation_id"]
    url = f"/api/conversations/{conversation}/messages"
    assert (await owner.get(url, params={"after_seq": "0"})).json()["items"][0]["text"] == "hi"
    assert (await owner.get(url, params={"after_seq": "2147483647"})).json()["items"] == []
    assert len((await owner.get(url, params={"before_seq": "2147483647"})).json()["items"]) == 1


@pytest.mark.parametrize(
    "decoded",
    [
        ["2026-01-01T00:00:00+00:00", "cv_" + NUL],
        ["2026-01-01T00:00:00", "cv_x"],
        ["2026-01-01T00:00:00+00:00", 12],
        ["9999-12-31T23:59:59-23:59", "cv_x"],
    ],
    ids=["nul-id", "naive-time", "number-id", "far-future"],
)
async def test_a_forged_conversations_cursor_is_a_422_or_an_answer_never_a_500(
    owner: Account, decoded: list[Any]
) -> None:
    cursor = base64.urlsafe_b64encode(orjson.dumps(decoded)).decode()
    response = await owner.get("/api/conversations", params={"cursor": cursor})
    assert response.status_code in (200, 422), response.text
    if decoded[1] == "cv_" + NUL:
        assert response.status_code == 422


async def test_the_conversations_cursor_still_pages_through_everything(owner: Account) -> None:
    channel = (await custom_message(owner))["channel"]
    items = [
        {"external_id": f"m{i}", "contact": {"external_id": f"p{i}"}, "text": "hi"}
        for i in range(4)
    ]
    response = await owner.client.post(
        f"/api/ingest/{channel['id']}",
        json={"messages": items},
        headers={"Authorization": f"Bearer {channel['ingest_token']}"},
    )
    assert response.status_code == 202, response.text
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await owner.get("/api/conversations", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
