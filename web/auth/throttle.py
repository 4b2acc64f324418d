"""Password guessing: failed sign-ins and wrong passwords, on the hub's one rate limiter.

A sign-in spends one failure from three budgets before it checks anything: the account
from this address (tight), the account from anywhere (a higher ceiling, against guessing
spread over many addresses), and this address across accounts. It gives them back when it
turns out not to be a failure, so of many parallel guesses none slips past a limit, and a
right password costs nothing. Someone guessing from elsewhere therefore locks out only
themselves until the account's ceiling, and an address that guessed wrong fifty times
blocks no other address. A password typed to confirm an action once signed in (changing it,
turning 2FA off, deleting the workspace) spends the operator's own budget the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from web import limits
from web.app_state import services_of
from web.auth import passwords

_TOO_MANY = "Too many failed sign-ins."


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in's spent failure; settle it with :func:`not_a_failure` when it is none."""

    budgets: tuple[limits.Budget, ...]


async def begin_login(request: Request, email: str) -> Attempt:
    """Spend the attempt's failure up front, or raise 429 (nothing spent) when over."""
    settings = services_of(request).settings
    address = limits.client_address(request)
    email = email.lower()
    budgets = (
        limits.Budget("login", settings.limit_login, (email, address)),
        limits.Budget("login-account", settings.limit_login_account, (email,)),
        limits.Budget("login-address", settings.limit_login_address, (address,)),
    )
    await limits.take(request, *budgets, detail=_TOO_MANY)
    return Attempt(budgets)


async def not_a_failure(request: Request, attempt: Attempt) -> None:
    """The attempt signed in (or only lacked its second factor): it counts for nothing."""
    await limits.give_back(request, *attempt.budgets)


async def check_password(
    request: Request, operator_id: str, password_hash: str | None, password: str
) -> bool:
    """Whether ``password`` is the operator's, spending one of their wrong guesses (429
    past ``INVIARO_LIMIT_PASSWORD_CHECKS``; a right password gives it back)."""
    settings = services_of(request).settings
    budget = limits.Budget("password", settings.limit_password_checks, (operator_id,))
    await limits.take(request, budget, detail="Too many wrong passwords.")
    ok = await passwords.verify_password(password_hash, password)
    if ok:
        await limits.give_back(request, budget)
    return ok
