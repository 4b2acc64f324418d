"""OAuth 2.0 for calendar connections: authorization URLs with PKCE, code exchange, refresh.

Google (``accounts.google.com`` / ``oauth2.googleapis.com``) and the Microsoft identity
platform (``login.microsoftonline.com``, the ``common`` tenant) speak the same
authorization-code grant (RFC 6749 §4.1) with PKCE (RFC 7636, ``S256``); only the URLs,
the scopes and the extra parameters that ask for a refresh token differ. Pure apart from
the HTTP calls, which go through the caller's client.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from adapters.base import response_json, retry_after_seconds, retryable_status, transport_error
from adapters.calendars import CalendarError


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    name: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    # Added to the authorization request so the answer carries a refresh token.
    authorize_extra: tuple[tuple[str, str], ...] = ()
    # Microsoft wants the scopes again on the token request.
    scope_on_token: bool = False


GOOGLE = OAuthProvider(
    name="google",
    authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
    token_url="https://oauth2.googleapis.com/token",
    # Least privilege: read free/busy, write the events we book; nothing else.
    scopes=(
        "https://www.googleapis.com/auth/calendar.freebusy",
        "https://www.googleapis.com/auth/calendar.events",
    ),
    authorize_extra=(("access_type", "offline"), ("prompt", "consent")),
)
MICROSOFT = OAuthProvider(
    name="microsoft",
    authorize_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
    scopes=("offline_access", "https://graph.microsoft.com/Calendars.ReadWrite"),
    authorize_extra=(("response_mode", "query"),),
    scope_on_token=True,
)
PROVIDERS = {p.name: p for p in (GOOGLE, MICROSOFT)}


class OAuthRefused(CalendarError):
    """The token endpoint refused the grant (``invalid_grant`` and friends): the user
    revoked us, or the code was bad. Not retryable; ``code`` is the OAuth error code."""


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Tokens:
        return cls(
            str(value["access_token"]),
            value.get("refresh_token"),
            datetime.fromisoformat(value["expires_at"]),
        )


def code_challenge(verifier: str) -> str:
    """PKCE ``S256``: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    provider: OAuthProvider, *, client_id: str, redirect_uri: str, state: str, verifier: str
) -> str:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
        **dict(provider.authorize_extra),
    }
    return f"{provider.authorize_url}?{urlencode(params)}"


async def _token_request(
    client: httpx.AsyncClient, provider: OAuthProvider, form: dict[str, str], now: datetime
) -> tuple[Tokens, dict[str, Any]]:
    what = f"{provider.name} token endpoint"
    if provider.scope_on_token:
        form["scope"] = " ".join(provider.scopes)
    try:
        response = await client.post(
            provider.token_url, data=form, headers={"Accept": "application/json"}
        )
    except httpx.HTTPError as exc:
        raise transport_error(exc, what, CalendarError) from exc
    body = response_json(response)
    if not response.is_success:
        error = body.get("error") if isinstance(body, dict) else None
        if retryable_status(response.status_code):
            raise CalendarError(
                f"{what} answered HTTP {response.status_code}",
                retryable=True,
                retry_after=retry_after_seconds(response),
                code=str(response.status_code),
            )
        raise OAuthRefused(
            f"{what} refused: {error or response.status_code}",
            retryable=False,
            code=str(error or response.status_code),
        )
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise CalendarError(f"{what}: no access_token in the answer", retryable=False)
    expires_in = body.get("expires_in")
    seconds = (
        int(expires_in) if isinstance(expires_in, int | str) and str(expires_in).isdigit() else 3600
    )
    refresh = body.get("refresh_token")
    tokens = Tokens(
        body["access_token"],
        refresh if isinstance(refresh, str) and refresh else None,
        now + timedelta(seconds=seconds),
    )
    return tokens, body


async def exchange_code(
    client: httpx.AsyncClient,
    provider: OAuthProvider,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str,
    verifier: str,
    now: datetime,
) -> Tokens:
    """The authorization code (and the PKCE verifier) for tokens."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
        "code_verifier": verifier,
    }
    tokens, _ = await _token_request(client, provider, form, now)
    return tokens


async def refresh(
    client: httpx.AsyncClient,
    provider: OAuthProvider,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    now: datetime,
) -> Tokens:
    """New tokens from the refresh token; the old refresh token stays when none comes back
    (Google keeps it; Microsoft rotates it)."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    tokens, _ = await _token_request(client, provider, form, now)
    if tokens.refresh_token is None:
        tokens = Tokens(tokens.access_token, refresh_token, tokens.expires_at)
    return tokens
