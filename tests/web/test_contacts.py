"""The contacts API over HTTP: read, correct, export and erase, with roles and audit.

Conversations are written straight through the store (the way channel webhooks would),
then driven through the public API as a browser client.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.ids import new_id
from hub.model import Author, Inbound
from storage import models as m
from storage.db import make_engine, sessionmaker
from storage.store import SqlStore
from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, signup
from web.contracts.contacts import ContactPatch
from web.errors import ApiError
from web.schema import convert


@pytest.fixture
async def engine(live: LiveServer) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(live.settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def store(engine: AsyncEngine) -> AsyncIterator[SqlStore]:
    store = SqlStore(engine)
    yield store
    await store.close()


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Account:
    return await signup(client)


@dataclass
class Contact:
    id: str
    name: str
    external_id: str
    texts: list[str]
    conversation_id: str


def token(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


async def write_contact(store: SqlStore, engine: AsyncEngine, workspace_id: str) -> Contact:
    """A contact writing in on a WhatsApp channel of the workspace, with a reply."""
    channel_id = new_id("ch_")
    async with sessionmaker(engine)() as session, session.begin():
        session.add(m.Channel(id=channel_id, workspace_id=workspace_id, kind="whatsapp", name="WA"))
    name, external_id = token("Name"), token("+49151")
    texts = [token("question"), token("answer")]
    first = await store.write(
        Inbound(
            workspace_id=workspace_id,
            channel_id=channel_id,
            direction="in",
            author=Author("contact", None, name),
            text=texts[0],
            contact_external_id=external_id,
            contact_name=name,
            provider_message_id=token("wamid"),
        )
    )
    conv_id = first.message.conversation_id
    await store.write(
        Inbound(
            workspace_id=workspace_id,
            channel_id=channel_id,
            direction="out",
            author=Author("operator", None, "Ada"),
            text=texts[1],
            conversation_id=conv_id,
        )
    )
    async with engine.connect() as conn:
        contact_id = await conn.scalar(
            select(m.Conversation.contact_id).where(m.Conversation.id == conv_id)
        )
    return Contact(contact_id, name, external_id, texts, conv_id)


async def database_text(engine: AsyncEngine) -> str:
    parts: list[str] = []
    async with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


async def audit_rows(engine: AsyncEngine, workspace_id: str, action: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(m.AuditEntry.__table__).where(
                m.AuditEntry.workspace_id == workspace_id, m.AuditEntry.action == action
            )
        )
        return [repr(tuple(r)) for r in rows]


async def test_a_contact_is_read_with_its_identities(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    response = await owner.get(f"/api/contacts/{contact.id}")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"]) == (contact.id, contact.name)
    assert [i["external_id"] for i in body["identities"]] == [contact.external_id]
    assert body["identities"][0]["kind"] == "whatsapp"


async def test_contacts_are_listed_in_pages(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    ids = [(await write_contact(store, engine, owner.workspace_id)).id for _ in range(3)]
    first = (await owner.get("/api/contacts", params={"limit": 2})).json()
    rest = (await owner.get("/api/contacts", params={"cursor": first["next_cursor"]})).json()
    assert [c["id"] for c in first["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None


async def test_a_correction_answers_the_updated_contact_and_is_audited(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    response = await owner.patch(
        f"/api/contacts/{contact.id}",
        json={"name": "Ann Corrected", "email": "ann@example.org", "attributes": {"tier": "b"}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "ann@example.org"
    assert response.json()["name"] == "Ann Corrected"
    [entry] = await audit_rows(engine, owner.workspace_id, "contact_updated")
    assert contact.id in entry and "ann@example.org" not in entry


async def test_a_malformed_email_is_refused_with_422(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    response = await owner.patch(f"/api/contacts/{contact.id}", json={"email": "nope"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"


async def test_a_field_left_out_stays_and_a_field_sent_null_is_cleared(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    url = f"/api/contacts/{contact.id}"
    await owner.patch(url, json={"email": "ann@example.org", "phone": "+49 151 000"})
    updated = (await owner.patch(url, json={"email": None})).json()
    assert updated["email"] is None and updated["phone"] == "+49 151 000"


async def test_every_bad_field_of_a_correction_is_named_in_one_422(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    response = await owner.patch(
        f"/api/contacts/{contact.id}",
        json={"name": "x" * 201, "email": "nope", "attributes": [1], "workspace_id": "ws_x"},
    )
    assert response.status_code == 422
    fields = [p["field"] for p in response.json()["problems"]]
    assert fields == ["name", "email", "attributes", "workspace_id"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "(1)"}, "phone"),
        ({"attributes": [1, 2]}, "attributes"),
        ({"attributes": {f"k{i}": i for i in range(51)}}, "attributes"),
        ({"attributes": {" ": 1}}, "attributes"),
        ({"attributes": {"notes": "x" * 17_000}}, "attributes"),
        ({"workspace_id": "ws_x"}, "workspace_id"),
    ],
)
def test_a_correction_the_contact_may_not_take_is_refused_naming_the_field(
    patch: dict[str, object], field: str
) -> None:
    with pytest.raises(ApiError) as caught:
        convert({"name": "Changed", **patch}, ContactPatch)
    assert caught.value.status == 422
    assert [p["field"] for p in (caught.value.extra or {})["problems"]] == [field]


def test_a_correction_stores_blanks_as_null_and_null_attributes_as_none() -> None:
    body = {"name": "  Ann B. ", "email": "", "phone": None, "attributes": None, "id": "ct_1"}
    changes = convert(body, ContactPatch).changes()
    assert changes == {"name": "Ann B.", "email": None, "phone": None, "attributes": {}}


def test_a_correction_changes_only_the_fields_sent() -> None:
    assert convert({"phone": "+49 151 000", "processing": "normal"}, ContactPatch).changes() == {
        "phone": "+49 151 000"
    }


async def test_a_correction_without_the_csrf_token_is_refused(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    response = await owner.client.patch(f"/api/contacts/{contact.id}", json={"name": "X"})
    assert response.status_code == 403


async def test_the_export_is_a_downloadable_document_with_everything(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    response = await owner.get(f"/api/contacts/{contact.id}/export")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    doc = response.json()
    assert set(doc) >= {"exported_at", "workspace", "contact", "conversations", "bookings"}
    assert doc["workspace"]["id"] == owner.workspace_id
    [conv] = doc["conversations"]
    assert [msg["text"] for msg in conv["messages"]] == contact.texts


async def test_export_and_erasure_are_audited_without_personal_data(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    assert (await owner.get(f"/api/contacts/{contact.id}/export")).status_code == 200
    assert (await owner.delete(f"/api/contacts/{contact.id}")).status_code == 204
    for action in ("contact_exported", "contact_erased"):
        [entry] = await audit_rows(engine, owner.workspace_id, action)
        assert contact.id in entry and owner.operator_id in entry
        for secret in (contact.name, contact.external_id, *contact.texts):
            assert secret not in entry
    listed = (await owner.get("/api/audit")).json()["items"]
    actions = {(e["action"], e["target"]["id"]) for e in listed}
    assert {("contact_exported", contact.id), ("contact_erased", contact.id)} <= actions


async def test_after_erasure_no_table_holds_the_contact_and_a_second_erasure_is_404(
    owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    assert (await owner.delete(f"/api/contacts/{contact.id}")).status_code == 204
    everything = await database_text(engine)
    for secret in (contact.name, contact.external_id, contact.conversation_id, *contact.texts):
        assert secret not in everything
    assert (await owner.delete(f"/api/contacts/{contact.id}")).status_code == 404
    assert (await owner.get(f"/api/contacts/{contact.id}")).status_code == 404
    assert (await owner.get(f"/api/conversations/{contact.conversation_id}")).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PATCH", ""), ("GET", "/export"), ("DELETE", "")],
)
async def test_another_workspaces_contact_is_404_and_untouched(
    live: LiveServer,
    owner: Account,
    store: SqlStore,
    engine: AsyncEngine,
    method: str,
    suffix: str,
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    async with live.client() as other_client:
        stranger = await signup(other_client)
        response = await other_client.request(
            method,
            f"/api/contacts/{contact.id}{suffix}",
            json={"name": "Hijacked"} if method == "PATCH" else None,
            headers=stranger.csrf,
        )
        missing = await other_client.request(
            method,
            f"/api/contacts/ct_{uuid.uuid4().hex}{suffix}",
            json={"name": "Hijacked"} if method == "PATCH" else None,
            headers=stranger.csrf,
        )
    assert response.status_code == 404
    assert response.json() == missing.json()  # indistinguishable from a contact never made
    assert (await owner.get(f"/api/contacts/{contact.id}")).json()["name"] == contact.name


@pytest.mark.parametrize(("method", "suffix"), [("GET", "/export"), ("DELETE", "")])
async def test_an_agent_may_not_export_or_erase(
    live: LiveServer,
    owner: Account,
    store: SqlStore,
    engine: AsyncEngine,
    method: str,
    suffix: str,
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    agent = await add_operator(owner, "agent", live.url)
    try:
        response = await agent.client.request(
            method, f"/api/contacts/{contact.id}{suffix}", headers=agent.csrf
        )
        assert response.status_code == 403
        assert (await agent.get(f"/api/contacts/{contact.id}")).status_code == 200
    finally:
        await agent.client.aclose()


async def test_an_agent_may_export_and_erase_where_the_workspace_allows_it(
    live: LiveServer, owner: Account, store: SqlStore, engine: AsyncEngine
) -> None:
    contact = await write_contact(store, engine, owner.workspace_id)
    async with engine.begin() as conn:
        await conn.execute(
            update(m.Workspace)
            .where(m.Workspace.id == owner.workspace_id)
            .values(agents_may_export=True)
        )
    agent = await add_operator(owner, "agent", live.url)
    try:
        assert (await agent.get(f"/api/contacts/{contact.id}/export")).status_code == 200
        assert (await agent.delete(f"/api/contacts/{contact.id}")).status_code == 204
    finally:
        await agent.client.aclose()


async def test_without_credentials_contacts_answer_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/contacts")).status_code == 401
