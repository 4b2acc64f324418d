"""Password guessing and account probing, as the attacks: failed sign-ins, wrong passwords
outside login, sign-up probing; and which address counts behind a proxy. Each runs with the
in-process limiter and with the Redis one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from hub.ratelimit import Limit
from tests.conftest import LiveServer
from tests.helpers import (
    PASSWORD,
    Account,
    enable_2fa,
    random_address,
    signup,
    unique_email,
)
from tests.web.limited import limiter_redis_url, server

WRONG = "wrong password!"

# The limits do not depend on the database: one backend, both limiters.
pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pytest.fixture(scope="module", params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> str | None:
    """The server's REDIS_URL: None picks the in-process limiter."""
    return limiter_redis_url(request.param)


@pytest.fixture(scope="module")
async def live(db_url: str, limiter: str | None) -> AsyncIterator[LiveServer]:
    """A server with the default limits."""
    async with server(db_url, limiter) as live:
        yield live


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with live.client() as client:
        yield await signup(client)


async def sign_in(
    live: LiveServer, email: str, address: str, password: str = PASSWORD
) -> httpx.Response:
    async with live.client() as client:
        return await client.post(
            "/api/login",
            json={"email": email, "password": password},
            headers={"X-Forwarded-For": address},
        )


def refused(response: httpx.Response) -> bool:
    """A 429 in the contract's shape, with a Retry-After a client can wait for."""
    return (
        response.status_code == 429
        and response.json()["error"] == "rate_limited"
        and bool(response.json()["detail"])
        and int(response.headers["retry-after"]) > 0
    )


async def test_guessing_from_one_address_is_refused_after_ten_failures(
    live: LiveServer, owner: Account
) -> None:
    attacker = random_address()
    statuses = [(await sign_in(live, owner.email, attacker, WRONG)).status_code for _ in range(10)]
    assert statuses == [401] * 10
    assert refused(await sign_in(live, owner.email, attacker, WRONG))
    assert refused(await sign_in(live, owner.email, attacker))  # even the right password


async def test_the_rightful_owner_signs_in_after_eleven_wrong_guesses_from_elsewhere(
    live: LiveServer, owner: Account
) -> None:
    attacker = random_address()
    for _ in range(11):
        await sign_in(live, owner.email, attacker, WRONG)
    assert (await sign_in(live, owner.email, random_address())).status_code == 200


async def test_fifty_failures_from_one_address_lock_out_that_address_only(
    db_url: str, limiter: str | None
) -> None:
    # The default count per address, over a day rather than 15 minutes: no failure comes
    # back while the test runs, however slowly.
    async with server(db_url, limiter, limit_login_address=Limit(50, 24 * 3600)) as live:
        async with live.client() as client:
            owner = await signup(client)
        attacker = random_address()
        for _ in range(50):
            assert (await sign_in(live, unique_email(), attacker, WRONG)).status_code == 401
        assert refused(await sign_in(live, unique_email(), attacker, WRONG))
        assert (await sign_in(live, owner.email, random_address())).status_code == 200


async def test_a_right_password_spends_nothing(live: LiveServer, owner: Account) -> None:
    address = random_address()
    for _ in range(12):
        assert (await sign_in(live, owner.email, address)).status_code == 200


async def test_guesses_spread_over_many_addresses_stop_at_the_account_ceiling(
    db_url: str, limiter: str | None
) -> None:
    async with server(db_url, limiter, limit_login_account=Limit(5, 3600)) as live:
        async with live.client() as client:
            victim = await signup(client)
        for _ in range(5):
            response = await sign_in(live, victim.email, random_address(), WRONG)
            assert response.status_code == 401
        assert refused(await sign_in(live, victim.email, random_address(), WRONG))


async def test_wrong_passwords_outside_login_are_throttled_per_operator(
    live: LiveServer, owner: Account
) -> None:
    totp, _ = await enable_2fa(owner)
    statuses = []
    for _ in range(25):
        response = await owner.post(
            "/api/password", {"current_password": WRONG, "new_password": "a new password 123"}
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [422] * 10
    assert set(statuses[10:]) == {429}
    assert refused(response)
    # The budget is the operator's, whichever check spends it.
    response = await owner.post("/api/2fa/disable", {"otp": totp.now(), "password": WRONG})
    assert refused(response)
    response = await owner.client.request(
        "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
    )
    assert refused(response)


async def test_password_checks_of_one_operator_leave_others_alone(
    live: LiveServer, owner: Account
) -> None:
    for _ in range(11):
        await owner.post(
            "/api/password", {"current_password": WRONG, "new_password": "a new password 123"}
        )
    async with live.client() as client:
        other = await signup(client)
        response = await other.post(
            "/api/password", {"current_password": WRONG, "new_password": "a new password 123"}
        )
    assert response.status_code == 422


async def test_signup_probing_from_one_address_is_throttled(
    live: LiveServer, owner: Account
) -> None:
    prober = random_address()

    async def probe(address: str) -> httpx.Response:
        async with live.client() as client:
            return await client.post(
                "/api/signup",
                json={"workspace": "W", "name": "N", "email": owner.email, "password": PASSWORD},
                headers={"X-Forwarded-For": address},
            )

    statuses = [(await probe(prober)).status_code for _ in range(20)]
    assert statuses == [409] * 20
    assert refused(await probe(prober))
    assert (await probe(random_address())).status_code == 409


async def signup_address(live: LiveServer, forwarded_for: str) -> str:
    """The client address the server recorded for a sign-up sent with X-Forwarded-For."""
    async with live.client() as client:
        response = await client.post(
            "/api/signup",
            json={"workspace": "W", "name": "N", "email": unique_email(), "password": PASSWORD},
            headers={"X-Forwarded-For": forwarded_for},
        )
        assert response.status_code == 201, response.text
        csrf = {"X-CSRF-Token": response.json()["csrf_token"]}
        entries = (await client.get("/api/audit", headers=csrf)).json()["items"]
    return str(next(e["ip"] for e in entries if e["action"] == "signup"))


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(db_url: str) -> None:
    async with server(db_url, None, trusted_proxies="127.0.0.1") as live:
        assert await signup_address(live, "203.0.113.9") == "203.0.113.9"


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(db_url: str) -> None:
    async with server(db_url, None, trusted_proxies="192.0.2.1") as live:
        assert await signup_address(live, "203.0.113.9") == "127.0.0.1"
