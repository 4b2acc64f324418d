"""Every door's rate limit, in one place: keys from what the limit counts, a 429 past it.

The budgets live in ``services.limiter`` (Redis when ``REDIS_URL`` is set, so every process
shares them; in-process otherwise). Keys are keyed hashes of what they count (an address,
an email, an operator), so Redis holds neither emails nor addresses in the clear. A refusal
is ``429 {"error": "rate_limited", "detail": ...}`` with ``Retry-After`` in whole seconds.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

from starlette.requests import HTTPConnection

from hub.ratelimit import Limit
from web import metrics
from web.app_state import services_of
from web.crypto import keyed_hash
from web.errors import ApiError


class Budget(NamedTuple):
    """What one limit counts: events at ``door`` by ``subject`` (an address, an email…)."""

    door: str
    limit: Limit
    subject: tuple[str, ...]


@lru_cache(maxsize=4096)
def _key(secret_key: str, door: str, subject: tuple[str, ...]) -> str:
    """A budget's key in the limiter. The last 4,096 are kept: the busiest doors (ingest,
    webhooks) count by channel, whose key never changes, and an HMAC per request was 3% of
    an ingest request's CPU."""
    return door + ":" + keyed_hash(secret_key, "ratelimit", "\x1f".join(subject))


def refusal(wait: float, detail: str) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        "rate_limited",
        f"{detail} Try again in {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )


async def take(conn: HTTPConnection, *budgets: Budget, detail: str) -> None:
    """Spend one of each budget, or none and raise the 429 saying ``detail``: a refusal
    gives back what was taken before it."""
    services = services_of(conn)
    taken: list[tuple[str, Limit]] = []
    for door, limit, subject in budgets:
        key = _key(services.settings.secret_key, door, subject)
        wait = await services.limiter.take(key, limit)
        if wait is not None:
            for earlier, earlier_limit in taken:
                await services.limiter.give_back(earlier, earlier_limit)
            metrics.RATE_LIMITED.labels(door=door).inc()
            raise refusal(wait, detail)
        taken.append((key, limit))


async def give_back(conn: HTTPConnection, *budgets: Budget) -> None:
    """Return one of each budget taken with :func:`take` (it was no failure after all)."""
    services = services_of(conn)
    for door, limit, subject in budgets:
        await services.limiter.give_back(_key(services.settings.secret_key, door, subject), limit)


def client_address(conn: HTTPConnection) -> str:
    """The client's address: the peer, or X-Forwarded-For from ``INVIARO_TRUSTED_PROXIES``
    (uvicorn applies it)."""
    return conn.client.host if conn.client else "unknown"


# The doors. Each names what it counts; the numbers are settings (web/config.py).


async def signup(conn: HTTPConnection) -> None:
    """Every sign-up attempt counts: a taken email answers 409, so unlimited tries from one
    address would list the accounts."""
    limit = services_of(conn).settings.limit_signup
    budget = Budget("signup", limit, (client_address(conn),))
    await take(conn, budget, detail="Too many sign-ups from this address.")


async def widget_session(conn: HTTPConnection, public_key: str) -> None:
    """Each new widget session may create a contact and a conversation: per address, and
    per channel against floods spread over many addresses."""
    settings = services_of(conn).settings
    budget = Budget("widget", settings.limit_widget_sessions, (client_address(conn),))
    await take(conn, budget, detail="Too many chat sessions from this address.")
    budget = Budget("widget-channel", settings.limit_widget_sessions_channel, (public_key,))
    await take(conn, budget, detail="Too many chat sessions on this channel.")


async def channel_request(conn: HTTPConnection, channel_id: str) -> None:
    """A webhook or ingest request for ``channel_id``: high enough for a provider's burst."""
    limit = services_of(conn).settings.limit_channel_requests
    budget = Budget("channel", limit, (channel_id,))
    await take(conn, budget, detail="Too many requests for this channel.")


async def api_request(conn: HTTPConnection, operator_id: str) -> None:
    """An authenticated API call, by operator (cookie and API tokens share the budget)."""
    limit = services_of(conn).settings.limit_api
    budget = Budget("api", limit, (operator_id,))
    await take(conn, budget, detail="Too many API requests.")


async def password_reset(conn: HTTPConnection, email: str) -> None:
    """A "forgot password" request: per email (no inbox is flooded with reset mails) and
    per address. Counted whether or not the email has an account, so the limit itself
    tells nothing about accounts."""
    limit = conn.app.state.services.settings.limit_password_reset
    address_limit = Limit(limit.count * 4, limit.period_s)
    await take(
        conn,
        Budget("reset-email", limit, (email,)),
        Budget("reset-address", address_limit, (client_address(conn),)),
        detail="Too many password-reset requests.",
    )


async def upload(conn: HTTPConnection, uploader: str) -> None:
    """A file upload (it fills disk): per uploader (a visitor's contact id, an operator) and
    per address."""
    limit = services_of(conn).settings.limit_uploads
    await take(
        conn,
        Budget("upload", limit, (uploader,)),
        Budget("upload-address", limit, (client_address(conn),)),
        detail="Too many files uploaded; try again later.",
    )


async def account_link(conn: HTTPConnection) -> None:
    """Using an invitation or reset link (a wrong one too), per address: links are long
    random tokens, but a guesser still gets nowhere fast."""
    limit = conn.app.state.services.settings.limit_account_links
    await take(
        conn, Budget("account-link", limit, (client_address(conn),)), detail="Too many tries."
    )
