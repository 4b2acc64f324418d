"""Login throttling per account and per address."""

from __future__ import annotations

import httpx

from tests.helpers import login, random_address, signup, unique_email


async def test_repeated_failures_on_one_account_answer_429_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    statuses = []
    for _ in range(11):
        response = await client.post(
            "/api/login",
            json={"email": account.email, "password": "wrong password!"},
            headers={"X-Forwarded-For": random_address()},
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    assert response.json()["error"] == "rate_limited"
    assert 0 < int(response.headers["retry-after"]) <= 15 * 60


async def test_throttled_account_refuses_even_the_right_password(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    for _ in range(10):
        await client.post(
            "/api/login",
            json={"email": account.email, "password": "wrong password!"},
            headers={"X-Forwarded-For": random_address()},
        )
    response = await login(client, account.email)
    assert response.status_code == 429


async def test_many_failures_from_one_address_answer_429(client: httpx.AsyncClient) -> None:
    address = random_address()
    statuses = []
    for _ in range(51):
        response = await client.post(
            "/api/login",
            json={"email": unique_email(), "password": "wrong password!"},
            headers={"X-Forwarded-For": address},
        )
        statuses.append(response.status_code)
    assert set(statuses[:50]) == {401}
    assert statuses[50] == 429
    assert int(response.headers["retry-after"]) > 0


async def test_other_accounts_log_in_while_one_is_throttled(client: httpx.AsyncClient) -> None:
    victim = await signup(client)
    for _ in range(11):
        await client.post(
            "/api/login",
            json={"email": victim.email, "password": "wrong password!"},
            headers={"X-Forwarded-For": random_address()},
        )
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other_client:
        other = await signup(other_client)
        response = await login(other_client, other.email)
    assert response.status_code == 200
