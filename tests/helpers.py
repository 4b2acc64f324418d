"""Reusable async helpers for API tests: sign up, log in, and send the right headers.

Each helper talks to the live server through the public HTTP surface only, so tests read
as a client would use the hub.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp

from hub.model import Author, Inbound

PASSWORD = "correct horse battery staple"


def unique_email() -> str:
    return f"op-{uuid.uuid4().hex[:10]}@example.com"


def random_address() -> str:
    """A fresh client address (uvicorn trusts X-Forwarded-For from loopback), so tests do not
    share one address's rate limits (sign-ups, failed logins, widget sessions)."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@dataclass
class Account:
    """A signed-in operator: its own cookie jar, ids and CSRF token."""

    client: httpx.AsyncClient
    email: str
    password: str
    operator: dict[str, Any]
    workspace: dict[str, Any]
    csrf_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def operator_id(self) -> str:
        return str(self.operator["id"])

    @property
    def workspace_id(self) -> str:
        return str(self.workspace["id"])

    @property
    def csrf(self) -> dict[str, str]:
        """Headers for an unsafe cookie-authenticated request."""
        return {"X-CSRF-Token": self.csrf_token}

    async def post(self, url: str, json: Any = None) -> httpx.Response:
        return await self.client.post(url, json=json, headers=self.csrf)

    async def patch(self, url: str, json: Any = None) -> httpx.Response:
        return await self.client.patch(url, json=json, headers=self.csrf)

    async def delete(self, url: str) -> httpx.Response:
        return await self.client.delete(url, headers=self.csrf)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, **kwargs)


def new_client(base_url: str) -> httpx.AsyncClient:
    """A client with its own cookie jar (one per simulated browser)."""
    return httpx.AsyncClient(base_url=base_url, timeout=20.0)


async def signup(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    workspace: str = "Acme",
    name: str = "Ada Owner",
) -> Account:
    """Create a workspace and its owner; ``client`` keeps the session cookie. Each sign-up
    comes from its own address, as real ones do (sign-ups are limited per address)."""
    email = email or unique_email()
    response = await client.post(
        "/api/signup",
        json={"workspace": workspace, "name": name, "email": email, "password": password},
        headers={"X-Forwarded-For": random_address()},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(client, email, password, body["operator"], body["workspace"], body["csrf_token"])


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, otp: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"email": email, "password": password}
    if otp is not None:
        body["otp"] = otp
    return await client.post("/api/login", json=body)


async def login_account(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, otp: str | None = None
) -> Account:
    response = await login(client, email, password, otp)
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(client, email, password, body["operator"], body["workspace"], body["csrf_token"])


async def add_operator(owner: Account, role: str = "agent", base_url: str | None = None) -> Account:
    """Add an operator with ``role`` to ``owner``'s workspace and sign them in on a new client."""
    email = unique_email()
    response = await owner.post(
        "/api/operators",
        json={"email": email, "name": f"{role.title()} Person", "password": PASSWORD, "role": role},
    )
    assert response.status_code == 201, response.text
    client = new_client(base_url or str(owner.client.base_url))
    return await login_account(client, email)


async def api_token(account: Account, name: str = "integration") -> str:
    response = await account.post("/api/tokens", json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def enable_2fa(account: Account) -> tuple[pyotp.TOTP, list[str]]:
    """Set up and enable TOTP; returns the generator and the backup codes. The current
    step's code is spent by enabling, so log in next with ``next_code(totp)``."""
    response = await account.post("/api/2fa/setup")
    assert response.status_code == 200, response.text
    setup = response.json()
    totp = pyotp.TOTP(setup["secret"])
    response = await account.post("/api/2fa/enable", json={"otp": totp.now()})
    assert response.status_code == 204, response.text
    return totp, list(setup["backup_codes"])


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next 30-second step: valid now (window 1) and never used yet."""
    import time

    return totp.at(time.time() + totp.interval)


def inbound(text: str = "hello", conversation_id: str = "c1", **kw: Any) -> Inbound:
    """A contact's message in workspace w1, for tests below the HTTP surface."""
    return Inbound(
        workspace_id="w1",
        channel_id="ch1",
        direction="in",
        author=Author("contact", "ct1"),
        text=text,
        conversation_id=conversation_id,
        **kw,
    )
