"""Each operator's notification preferences are kept on the server: all on by default,
changed with a PUT of Struct-checked fields, their own and no one else's."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import Account, add_operator, signup

DEFAULTS = {"new_conversations": True, "assigned": True, "mentions": True, "sound": True}


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Account:
    return await signup(client)


async def put(account: Account, body: object) -> httpx.Response:
    return await account.client.put("/api/me/notifications", json=body, headers=account.csrf)


async def test_everything_is_notified_by_default(owner: Account) -> None:
    response = await owner.get("/api/me/notifications")
    assert response.status_code == 200 and response.json() == DEFAULTS


async def test_a_change_is_kept_for_that_operator_only(owner: Account) -> None:
    changed = {**DEFAULTS, "new_conversations": False, "sound": False}
    response = await put(owner, changed)
    assert response.status_code == 200 and response.json() == changed
    assert (await owner.get("/api/me/notifications")).json() == changed
    colleague = await add_operator(owner, "agent")
    try:
        assert (await colleague.get("/api/me/notifications")).json() == DEFAULTS
    finally:
        await colleague.client.aclose()


async def test_bad_fields_are_refused_with_every_problem(owner: Account) -> None:
    response = await put(owner, {"mentions": "yes", "sound": 1, "loud": True})
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["problems"]}
    assert fields == {"mentions", "sound", "loud"}
    assert (await owner.get("/api/me/notifications")).json() == DEFAULTS


async def test_a_change_needs_the_csrf_token_and_a_signed_in_operator(owner: Account) -> None:
    no_csrf = await owner.client.put("/api/me/notifications", json=DEFAULTS)
    assert no_csrf.status_code == 403
    owner.client.cookies.clear()
    assert (await owner.client.get("/api/me/notifications")).status_code == 401
