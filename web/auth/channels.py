"""Channel credentials for the doors messages come in by (webhooks, widget, ingest API).

Secrets (``access_token``, ``app_secret``, ``verify_token``, ``auth_token``,
``identity_secret``) are stored Fernet-encrypted in ``channels.secrets`` and never leave
the hub through the API; code that must use them (signature checks, outbound sends) calls
:func:`channel_secrets` or :func:`adapter_config`. Deleted channels are ``disabled``;
neither they nor any channel of a deleted workspace is found by these lookups, so every
door (webhooks, Meta's verification, ingest, the widget) refuses them at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Channel, Workspace
from web.config import Settings
from web.crypto import decrypt_json, encrypt_json, same, sha256_hex

SECRET_FIELDS = frozenset(
    {"access_token", "app_secret", "verify_token", "auth_token", "identity_secret"}
)


def seal_secrets(settings: Settings, secrets: dict[str, str]) -> str | None:
    return encrypt_json(settings.secret_key, secrets) if secrets else None


def _open_secrets(settings: Settings, sealed: str | None) -> dict[str, str]:
    if not sealed:
        return {}
    value: Any = decrypt_json(settings.secret_key, sealed)
    return {str(k): str(v) for k, v in dict(value).items()}


def channel_secrets(settings: Settings, channel: Channel) -> dict[str, str]:
    """The channel's decrypted secrets, e.g. ``{"app_secret": ..., "verify_token": ...}``;
    empty when it has none. Raises :class:`web.crypto.DecryptError` if the key changed."""
    return _open_secrets(settings, channel.secrets)


def adapter_config(
    settings: Settings, config: dict[str, Any] | None, sealed: str | None
) -> dict[str, Any]:
    """A channel's ``config`` merged with its decrypted ``sealed`` secrets: what its adapter
    is built from. Raises :class:`web.crypto.DecryptError` if the key changed."""
    return {**(config or {}), **_open_secrets(settings, sealed)}


def _live_channels() -> Select[Channel]:
    """Channels neither deleted nor of a deleted workspace."""
    return (
        select(Channel)
        .join(Workspace, Workspace.id == Channel.workspace_id)
        .where(Channel.disabled.is_(False), Workspace.deleted_at.is_(None))
    )


async def load_channel(
    db: AsyncSession, channel_id: str, *, kinds: tuple[str, ...] | None = None
) -> Channel | None:
    """A live channel by id, optionally only of the given kinds."""
    stmt = _live_channels().where(Channel.id == channel_id)
    if kinds is not None:
        stmt = stmt.where(Channel.kind.in_(kinds))
    return (await db.execute(stmt)).scalar_one_or_none()


async def find_channel_by_public_key(db: AsyncSession, public_key: str) -> Channel | None:
    """The live widget channel embedded with ``data-inviaro-key=public_key``."""
    if not public_key or len(public_key) > 64:
        return None
    stmt = _live_channels().where(Channel.public_key == public_key, Channel.kind == "widget")
    return (await db.execute(stmt)).scalar_one_or_none()


async def check_ingest_token(db: AsyncSession, channel_id: str, token: str) -> Channel | None:
    """The live custom channel ``channel_id`` if ``token`` is its ingest token, else None
    (answer 401 then)."""
    channel = await load_channel(db, channel_id, kinds=("custom",))
    return channel if channel is not None and token_matches(channel, token) else None


def token_matches(channel: Channel, token: str) -> bool:
    """Whether ``token`` is ``channel``'s ingest token (compared in constant time)."""
    if not channel.ingest_token_hash or not token:
        return False
    return same(sha256_hex(token), channel.ingest_token_hash)
