"""Calendar connections: the OAuth redirect flow, tokens at rest, and every provider call.

Nothing else talks to Google or Microsoft for calendars. Each call goes through
:func:`call_provider`, which hands the adapter a fresh access token (refreshed a minute
before it expires), retries once after a 401 with a refreshed token, backs off on 429 and
5xx, and marks the connection ``broken`` when the refresh itself is refused. A connection
that is not ``connected`` is never called (:class:`CalendarUnavailable`), so disconnecting
stops every read and write at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters import calendar_oauth, google_calendar, microsoft_calendar
from adapters.calendar_oauth import OAuthProvider, OAuthRefused, Tokens
from adapters.calendars import CalendarError
from hub.model import as_utc, utcnow
from storage.models import CalendarConnection, OAuthState
from web import metrics
from web.config import Settings
from web.crypto import decrypt_json, encrypt_json, random_token, sha256_hex

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger("inviaro.calendars")

STATE_TTL = timedelta(minutes=10)
REFRESH_AHEAD = timedelta(seconds=60)
BACKOFF_S = (0.5, 2.0)  # after a 429 or 5xx: two more tries, then the error stands
MAX_RETRY_AFTER_S = 5.0
MICROSOFT_CONSENT_NOTE = (
    "Microsoft has no way for an app to revoke its own access: remove Inviaro's consent at "
    "https://myapplications.microsoft.com (work or school accounts) or "
    "https://account.live.com/consent/Manage (personal accounts)."
)
_CLIENT_SETTINGS = {
    "google": ("google_client_id", "google_client_secret", "INVIARO_GOOGLE_CLIENT"),
    "microsoft": ("microsoft_client_id", "microsoft_client_secret", "INVIARO_MICROSOFT_CLIENT"),
}

T = TypeVar("T")


class NotConfigured(Exception):
    """This hub has no OAuth client for the provider; the message names what to set."""


class CallbackRefused(Exception):
    """The OAuth callback cannot be accepted; the message is one sentence for the operator."""


class CalendarUnavailable(Exception):
    """The calendar cannot be read or written now (disconnected, broken, or the provider
    failed); the message is one sentence for the operator."""


@dataclass(frozen=True, slots=True)
class OAuthClient:
    provider: OAuthProvider
    client_id: str
    client_secret: str


def oauth_client(settings: Settings, provider: str) -> OAuthClient:
    id_name, secret_name, env = _CLIENT_SETTINGS[provider]
    client_id, secret = getattr(settings, id_name), getattr(settings, secret_name)
    if not client_id or not secret:
        raise NotConfigured(
            f"Connecting a {provider.title()} calendar needs {env}_ID and {env}_SECRET "
            "set on the server (see docs/calendars.md)."
        )
    return OAuthClient(calendar_oauth.PROVIDERS[provider], client_id, secret)


def redirect_uri(settings: Settings, provider: str) -> str:
    """What to register at the provider as the OAuth redirect URI."""
    return f"{settings.public_url}/oauth/{provider}/callback"


# The redirect flow ---------------------------------------------------------------------------


async def start_connect(
    db: AsyncSession,
    settings: Settings,
    *,
    workspace_id: str,
    operator_id: str,
    session_id: str,
    provider: str,
) -> str:
    """Remember a fresh state and PKCE verifier for this session; the authorization URL."""
    client = oauth_client(settings, provider)
    state, verifier = random_token("", 32), random_token("", 48)
    now = utcnow()
    await db.execute(delete(OAuthState).where(OAuthState.expires_at < now))
    db.add(
        OAuthState(
            state_hash=sha256_hex(state),
            workspace_id=workspace_id,
            operator_id=operator_id,
            session_id=session_id,
            provider=provider,
            verifier=encrypt_json(settings.secret_key, verifier),
            expires_at=now + STATE_TTL,
        )
    )
    return calendar_oauth.authorize_url(
        client.provider,
        client_id=client.client_id,
        redirect_uri=redirect_uri(settings, provider),
        state=state,
        verifier=verifier,
    )


async def take_state(
    db: AsyncSession, settings: Settings, *, state: str, provider: str, session_id: str | None
) -> tuple[OAuthState, str]:
    """The pending state and its PKCE verifier, consumed (a second use finds nothing)."""
    found = await db.get(OAuthState, sha256_hex(state)) if 0 < len(state) <= 200 else None
    if found is None:
        raise CallbackRefused("This sign-in link was already used or is unknown. Connect again.")
    taken = cast(
        CursorResult[Any],
        await db.execute(delete(OAuthState).where(OAuthState.state_hash == found.state_hash)),
    )
    await db.commit()
    if taken.rowcount != 1:
        raise CallbackRefused("This sign-in link was already used or is unknown. Connect again.")
    if found.session_id != session_id or found.provider != provider:
        raise CallbackRefused(
            "This sign-in link belongs to another session. Connect again from settings."
        )
    if as_utc(found.expires_at) < utcnow():
        raise CallbackRefused("This sign-in link expired. Connect again from settings.")
    return found, str(decrypt_json(settings.secret_key, found.verifier))


async def finish_connect(
    services: Services, pending: OAuthState, verifier: str, code: str
) -> CalendarConnection:
    """Exchange the code, name the account, store the connection (not committed)."""
    settings: Settings = services.settings
    client = oauth_client(settings, pending.provider)
    try:
        tokens = await calendar_oauth.exchange_code(
            services.http,
            client.provider,
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri=redirect_uri(settings, pending.provider),
            code=code,
            verifier=verifier,
            now=utcnow(),
        )
    except CalendarError as exc:
        log.warning("%s code exchange failed: %s", pending.provider, exc.code)
        raise CallbackRefused(
            f"{pending.provider.title()} did not accept the sign-in ({exc.code}). Connect again."
        ) from None
    account = ""
    try:
        if pending.provider == "google":
            account = await google_calendar.account_name(services.http, tokens.access_token)
        else:
            account = await microsoft_calendar.account_name(services.http, tokens.access_token)
    except CalendarError as exc:
        log.warning("%s account lookup failed: %s", pending.provider, exc.code)
    default_calendars = (
        ["primary"] if pending.provider == "google" else [account] if account else []
    )
    return CalendarConnection(
        workspace_id=pending.workspace_id,
        provider=pending.provider,
        account=account[:320],
        status="connected",
        tokens=encrypt_json(settings.secret_key, tokens.as_json()),
        availability_calendars=default_calendars,
        event_calendar="primary" if pending.provider == "google" else None,
    )


# Tokens and calls ----------------------------------------------------------------------------


async def _load(services: Services, connection_id: str) -> CalendarConnection:
    async with services.db() as db:
        connection = await db.get(CalendarConnection, connection_id)
    if connection is None:
        raise CalendarUnavailable("The booking's calendar no longer exists.")
    if connection.status != "connected" or not connection.tokens:
        raise CalendarUnavailable(
            f"The {connection.provider.title()} calendar is {connection.status}: "
            "reconnect it in Settings → Calendars."
        )
    return connection


async def _save_tokens(services: Services, connection_id: str, tokens: Tokens) -> None:
    sealed = encrypt_json(services.settings.secret_key, tokens.as_json())
    async with services.db() as db:
        # Never resurrect a connection disconnected meanwhile.
        await db.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == connection_id, CalendarConnection.status == "connected")
            .values(tokens=sealed)
        )
        await db.commit()


async def mark_broken(services: Services, connection: CalendarConnection, reason: str) -> None:
    log.warning("calendar %s marked broken: %s", connection.id, reason)
    metrics.CALENDARS_BROKEN.labels(connection.provider).inc()
    async with services.db() as db:
        await db.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == connection.id, CalendarConnection.status == "connected")
            .values(status="broken")
        )
        await db.commit()


async def _refresh(services: Services, connection: CalendarConnection, tokens: Tokens) -> Tokens:
    client = oauth_client(services.settings, connection.provider)
    if not tokens.refresh_token:
        await mark_broken(services, connection, "no refresh token")
        raise CalendarUnavailable("The calendar's access expired and cannot be renewed.")
    try:
        fresh = await calendar_oauth.refresh(
            services.http,
            client.provider,
            client_id=client.client_id,
            client_secret=client.client_secret,
            refresh_token=tokens.refresh_token,
            now=utcnow(),
        )
    except OAuthRefused as exc:
        await mark_broken(services, connection, f"refresh refused ({exc.code})")
        raise CalendarUnavailable(
            f"{connection.provider.title()} refused to renew our access: the calendar is "
            "broken until it is reconnected in Settings → Calendars."
        ) from None
    except CalendarError as exc:
        raise CalendarUnavailable(
            f"{connection.provider.title()} could not be reached to renew our access."
        ) from exc
    await _save_tokens(services, connection.id, fresh)
    return fresh


async def call_provider(
    services: Services,
    connection_id: str,
    fn: Callable[[CalendarConnection, str], Awaitable[T]],
) -> T:
    """``fn(connection, access_token)`` with the connection's token, refreshing as needed.

    Raises :class:`CalendarUnavailable` with a sentence when it cannot be done.
    """
    connection = await _load(services, connection_id)
    tokens = Tokens.from_json(decrypt_json(services.settings.secret_key, connection.tokens or ""))
    if as_utc(tokens.expires_at) <= utcnow() + REFRESH_AHEAD:
        tokens = await _refresh(services, connection, tokens)
    refreshed = False
    attempt = 0
    while True:
        try:
            return await fn(connection, tokens.access_token)
        except CalendarError as exc:
            if exc.code == "401" and not refreshed:
                refreshed = True
                tokens = await _refresh(services, connection, tokens)
                continue
            if exc.retryable and attempt < len(BACKOFF_S):
                delay = min(exc.retry_after or BACKOFF_S[attempt], MAX_RETRY_AFTER_S)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            log.warning("calendar %s call failed: %s", connection_id, exc.detail)
            raise CalendarUnavailable(
                f"The {connection.provider.title()} calendar could not be used: {exc.detail}."
            ) from exc


async def disconnect(services: Services, connection: CalendarConnection) -> None:
    """Revoke at the provider where it can (Google), then forget the tokens.

    The caller sets the status and commits; after that no call uses this connection.
    """
    if connection.provider == "google" and connection.tokens:
        try:
            value = Tokens.from_json(decrypt_json(services.settings.secret_key, connection.tokens))
            await google_calendar.revoke_token(
                services.http, value.refresh_token or value.access_token
            )
        except (CalendarError, ValueError) as exc:
            # The tokens go either way; Google expires an unrevoked access token within an hour.
            log.warning("google token revocation for %s failed: %s", connection.id, exc)
    connection.tokens = None
    connection.status = "disconnected"
    connection.disconnected_at = utcnow()


async def connections_of(db: AsyncSession, workspace_id: str) -> list[CalendarConnection]:
    rows = await db.execute(
        select(CalendarConnection)
        .where(CalendarConnection.workspace_id == workspace_id)
        .order_by(CalendarConnection.created_at, CalendarConnection.id)
    )
    return list(rows.scalars())


def connection_json(connection: CalendarConnection) -> dict[str, Any]:
    from hub.model import rfc3339

    out: dict[str, Any] = {
        "id": connection.id,
        "provider": connection.provider,
        "account": connection.account,
        "status": connection.status,
        "availability_calendars": list(connection.availability_calendars or []),
        "event_calendar": connection.event_calendar,
        "created_at": rfc3339(connection.created_at),
    }
    if connection.disconnected_at is not None:
        out["disconnected_at"] = rfc3339(connection.disconnected_at)
        out["cache_purged"] = connection.cache_purged_at is not None
        if connection.provider == "microsoft":
            out["note"] = MICROSOFT_CONSENT_NOTE
    return out
