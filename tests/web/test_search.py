"""Search: conversations by the words of their messages, the contact's name, email or
phone, and tags (ranked, scoped to the workspace, paginated, combinable with the other
filters), and contacts by name, email or phone. A query of any shape gives results or an
empty list, never a 500. On SQLite (FTS5) and Postgres (tsvector, GIN)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, new_client, signup
from tests.web.realtime import (
    close_all_sockets,
    visitor_session,
    visitor_socket,
    widget_channel,
)


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client)
    await close_all_sockets()


async def conversation(owner: Account, *texts: str, widget: Any = None) -> str:
    """A widget conversation whose visitor wrote ``texts``."""
    widget = widget or await widget_channel(owner)
    session = await visitor_session(owner, widget)
    sock = await visitor_socket(session["ws_url"])
    conv = ""
    for n, text in enumerate(texts):
        await sock.send({"type": "send", "ref": n, "text": text})
        conv = (await sock.wait_for(type="ack", ref=n))["message"]["conversation_id"]
    await sock.close()
    return conv


async def found(owner: Account, **params: str) -> list[str]:
    response = await owner.get("/api/conversations", params=params)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


def word() -> str:
    return "w" + uuid.uuid4().hex[:10]


async def test_search_finds_a_message_by_a_word(owner: Account) -> None:
    marker = word()
    hit = await conversation(owner, "hello", f"my parcel {marker} never arrived")
    await conversation(owner, "something else entirely")
    assert await found(owner, q=marker) == [hit]
    assert await found(owner, q=marker.upper()) == [hit]  # case does not matter
    assert await found(owner, q=marker[:6]) == [hit]  # a word's beginning is enough
    assert await found(owner, q=f"parcel {marker}") == [hit]  # every word must match
    assert await found(owner, q=f"parcel {word()}") == []


async def test_search_finds_by_contact_name_email_phone_and_tag(owner: Account) -> None:
    conv = await conversation(owner, "hi")
    contact_id = (await owner.get(f"/api/conversations/{conv}")).json()["contact"]["id"]
    name = "Zoë " + word()
    patched = await owner.patch(
        f"/api/contacts/{contact_id}",
        {"name": name, "email": f"{word()}@example.org", "phone": "+49 170 5550199"},
    )
    assert patched.status_code == 200, patched.text
    email = patched.json()["email"]
    tag = word()
    assert (await owner.patch(f"/api/conversations/{conv}", {"tags": [tag]})).status_code == 200
    for q in (name, name.split()[1], email, "170 5550199", "1705550", tag):
        assert await found(owner, q=q) == [conv], q
    contacts = await owner.get("/api/contacts", params={"q": email})
    assert [c["id"] for c in contacts.json()["items"]] == [contact_id]
    assert (await owner.get("/api/contacts", params={"q": word()})).json()["items"] == []


async def test_search_is_scoped_to_the_workspace(owner: Account, live: LiveServer) -> None:
    marker = word()
    await conversation(owner, f"secret {marker}")
    async with new_client(live.url) as client:
        other = await signup(client)
        assert await found(other, q=marker) == []
        assert (await other.get("/api/contacts", params={"q": "a"})).json()["items"] == []


async def test_a_better_match_ranks_first(owner: Account) -> None:
    marker = word()
    widget = await widget_channel(owner)
    weak = await conversation(owner, f"{marker} once", widget=widget)
    strong = await conversation(owner, "x", widget=widget)
    contact_id = (await owner.get(f"/api/conversations/{strong}")).json()["contact"]["id"]
    await owner.patch(f"/api/contacts/{contact_id}", {"name": f"{marker} Person"})
    await owner.post(f"/api/conversations/{strong}/messages", {"text": f"about {marker}"})
    assert await found(owner, q=marker) == [strong, weak]


async def test_search_combines_with_filters_and_pages(owner: Account) -> None:
    marker = word()
    widget = await widget_channel(owner)
    convs = [await conversation(owner, f"{marker} n{i}", widget=widget) for i in range(3)]
    await owner.patch(f"/api/conversations/{convs[0]}", {"status": "resolved", "tags": ["vip"]})
    assert await found(owner, q=marker, status="resolved") == [convs[0]]
    assert await found(owner, q=marker, tag="vip") == [convs[0]]
    assert sorted(await found(owner, q=marker, status="open")) == sorted(convs[1:])
    assert await found(owner, q=marker, channel="ch_nope") == []
    assert len(await found(owner, q=marker, channel=widget.channel_id)) == 3
    first = (await owner.get("/api/conversations", params={"q": marker, "limit": "2"})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await owner.get(
        "/api/conversations", params={"q": marker, "limit": "2", "cursor": first["next_cursor"]}
    )
    ids = [c["id"] for c in first["items"]] + [c["id"] for c in rest.json()["items"]]
    assert sorted(ids) == sorted(convs) and rest.json()["next_cursor"] is None
    forged = await owner.get("/api/conversations", params={"q": marker, "cursor": "bm9wZQ=="})
    assert forged.status_code == 422


ODD_QUERIES = [
    '"',
    "'",
    '"unbalanced',
    "a AND",
    "AND OR NOT",
    "NEAR(a b)",
    "-",
    "-word",
    "*",
    "a*",
    "(",
    ")",
    "a:b",
    "col:value",
    "^start",
    "!",
    "&|!",
    "a & b | !c",
    "x:*",
    "%",
    "_",
    "\\",
    "'; DROP TABLE messages; --",
    "{}[]",
    "🙂",
    "​",
    "  ",
    "ß" * 300,
    "a" * 5000,
    "مرحبا",
    "日本語",
    "<script>",
    "$1",
    "?",
    "+",
    "~",
    "@",
    "1e999",
    "\t\n",
]


async def test_any_query_shape_gives_results_or_an_empty_list(owner: Account) -> None:
    await conversation(owner, "a message with AND and NOT and NEAR in it")
    for q in ODD_QUERIES:
        for path in ("/api/conversations", "/api/contacts"):
            response = await owner.get(path, params={"q": q})
            assert response.status_code == 200, (path, q, response.text)
            assert isinstance(response.json()["items"], list)
    assert await found(owner, q='"and" AND -near*') != []
