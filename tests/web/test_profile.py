"""An operator's own profile: renaming oneself and the list of signed-in browsers."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from tests.helpers import add_operator, api_token, auth_headers, login_account, new_client, signup


async def test_an_agent_renames_themselves(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    agent = await add_operator(owner, "agent")
    try:
        renamed = await agent.patch("/api/me", {"name": "Agnes Agent"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Agnes Agent"
        assert (await agent.get("/api/me")).json()["operator"]["name"] == "Agnes Agent"
        assert (await agent.patch("/api/me", {"name": ""})).status_code == 422
        assert (await agent.patch("/api/me", {"role": "owner"})).status_code == 422
    finally:
        await agent.client.aclose()


async def test_sessions_are_listed_and_others_signed_out(live: LiveServer) -> None:
    async with new_client(live.url) as a, new_client(live.url) as b:
        owner = await signup(a)
        other = await login_account(b, owner.email)
        listed = (await owner.get("/api/me/sessions")).json()["items"]
        assert len(listed) == 2
        assert sum(1 for s in listed if s["current"]) == 1
        token = await api_token(owner)
        ended = await owner.post("/api/me/sessions/end-others")
        assert ended.json() == {"ended": 1}
        assert (await other.get("/api/me")).status_code == 401
        assert (await owner.get("/api/me")).status_code == 200
        # API tokens are not sessions: they keep working.
        assert (await a.get("/api/me", headers=auth_headers(token))).status_code == 200


async def test_one_other_session_is_ended_by_id(live: LiveServer) -> None:
    async with new_client(live.url) as a, new_client(live.url) as b:
        owner = await signup(a)
        other = await login_account(b, owner.email)
        listed = (await owner.get("/api/me/sessions")).json()["items"]
        [theirs] = [s for s in listed if not s["current"]]
        assert (await owner.delete(f"/api/me/sessions/{theirs['id']}")).status_code == 204
        assert (await other.get("/api/me")).status_code == 401
        assert (await owner.delete(f"/api/me/sessions/{theirs['id']}")).status_code == 404


async def test_another_operators_session_cannot_be_ended(live: LiveServer) -> None:
    async with new_client(live.url) as a, new_client(live.url) as b:
        owner = await signup(a)
        stranger = await signup(b)
        [mine] = (await owner.get("/api/me/sessions")).json()["items"]
        assert (await stranger.delete(f"/api/me/sessions/{mine['id']}")).status_code == 404
        assert (await owner.get("/api/me")).status_code == 200


async def test_profile_is_a_short_address_for_the_settings_tab(client: httpx.AsyncClient) -> None:
    answer = await client.get("/profile", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/settings?tab=profile"
