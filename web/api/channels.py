"""Channels of a workspace: create, list, read, delete.

``config`` is validated per kind; secret fields are split off, encrypted and never
returned (responses list only their names in ``secrets_set``). Unknown config fields are
dropped rather than stored, so a secret under an unexpected name is never echoed back.
Deleting a channel disables it: its doors close (webhooks, widget key, ingest token) while
its conversations stay in the inbox until retention or erasure removes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.gone import gone
from hub.model import CHANNEL_KINDS, rfc3339
from storage.models import Channel
from web import audit
from web.api import validate
from web.api.account import services
from web.auth.channels import channel_secrets, seal_secrets
from web.auth.context import MANAGERS, Principal, require
from web.config import Settings
from web.contracts import channels as channels_contract
from web.crypto import DecryptError, random_token, sha256_hex
from web.errors import ApiError
from web.gone import announce
from web.operation import declare
from web.schema import convert

Check = Callable[[Any, str], Any]


@dataclass(frozen=True, slots=True)
class Kind:
    webhook: str | None = None  # path prefix under the public URL


log = logging.getLogger("inviaro.channels")
_META_SECRETS = ("access_token", "app_secret", "verify_token")


KINDS: dict[str, Kind] = {
    "widget": Kind(),
    "whatsapp": Kind(webhook="/webhooks/meta"),
    "messenger": Kind(webhook="/webhooks/meta"),
    "instagram": Kind(webhook="/webhooks/meta"),
    "viber": Kind(webhook="/webhooks/viber"),
    "custom": Kind(),
}
assert set(KINDS) == set(CHANNEL_KINDS) == set(channels_contract.CONFIGS)


def split_config(kind: str, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split ``config`` into readable settings and secrets, as the kind's Struct has them
    (a field sent as null is left out; a widget's origins are normalised)."""
    fields = convert(
        {k: v for k, v in config.items() if v is not None},
        channels_contract.CONFIGS[kind],
        "config",
    )
    values = msgspec.structs.asdict(fields)
    readable: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for name, value in values.items():
        if value is not None:
            (secrets if name in channels_contract.SECRETS else readable)[name] = value
    if "allowed_origins" in readable:
        readable["allowed_origins"] = validate.origins(
            readable["allowed_origins"], "config.allowed_origins"
        )
    if "color" in readable:
        readable["color"] = str(readable["color"]).lower()
    return readable, secrets


def channel_json(channel: Channel, settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": channel.id,
        "kind": channel.kind,
        "name": channel.name,
        "config": dict(channel.config or {}),
        "secrets_set": _secret_names(channel, settings),
        "created_at": rfc3339(channel.created_at),
    }
    webhook = KINDS[channel.kind].webhook
    if webhook:
        out["webhook_url"] = f"{settings.public_url}{webhook}/{channel.id}"
    if channel.public_key:
        out["public_key"] = channel.public_key
    return out


def _secret_names(channel: Channel, settings: Settings) -> list[str]:
    """Which secrets are stored (names only), so a settings page can say "set"."""
    try:
        return sorted(channel_secrets(settings, channel))
    except DecryptError:
        return []


@declare(channels_contract.CREATE_CHANNEL)
async def create_channel(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    wanted = await channels_contract.CREATE_CHANNEL.parse(request, channels_contract.ChannelCreate)
    kind_name, name, config = wanted.kind, wanted.name or wanted.kind, wanted.config or {}
    if not isinstance(config, dict):
        raise validate.invalid("config", "must be an object")
    readable, secrets = split_config(kind_name, config)
    svc = services(request)
    ingest_token = random_token("ivi_", 32) if kind_name == "custom" else None
    channel = Channel(
        workspace_id=principal.workspace_id,
        kind=kind_name,
        name=name,
        config=readable,
        secrets=seal_secrets(svc.settings, secrets),
        public_key=random_token("pk_", 24) if kind_name == "widget" else None,
        ingest_token_hash=sha256_hex(ingest_token) if ingest_token else None,
    )
    async with svc.db() as db:
        db.add(channel)
        await db.flush()
        await audit.by_principal(db, request, principal, "channel_created", "channel", channel.id)
        await db.commit()
    body = channel_json(channel, svc.settings)
    if ingest_token:
        body["ingest_token"] = ingest_token
    if kind_name == "viber":
        body["webhook_registered"] = await _register_viber(svc, channel.id)
    return JSONResponse(body, status_code=201)


async def _register_viber(svc: Any, channel_id: str) -> bool:
    """Viber needs set_webhook before it sends anything; it calls our URL back during it.
    A refusal (say, the hub is not reachable from Viber yet) does not fail the creation:
    ``POST /api/channels/{id}/register-webhook`` retries it."""
    from adapters.base import ProviderError
    from web.webhooks import register_viber_webhook

    try:
        await register_viber_webhook(svc, channel_id)
    except (ProviderError, LookupError, OSError) as exc:
        log.warning("viber set_webhook for %s failed: %s", channel_id, type(exc).__name__)
        return False
    return True


async def own_channel(db: Any, principal: Principal, channel_id: str) -> Channel:
    channel = await db.get(Channel, channel_id)
    if channel is None or channel.disabled or channel.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", "There is no such channel.")
    return channel  # type: ignore[no-any-return]


@declare(channels_contract.LIST_CHANNELS)
async def list_channels(request: Request) -> Response:
    principal = await require(request)
    svc = services(request)
    async with svc.db() as db:
        rows = (
            await db.execute(
                select(Channel)
                .where(Channel.workspace_id == principal.workspace_id, Channel.disabled.is_(False))
                .order_by(Channel.created_at, Channel.id)
            )
        ).scalars()
        items = [channel_json(c, svc.settings) for c in rows]
    return JSONResponse({"items": items, "next_cursor": None})


@declare(channels_contract.GET_CHANNEL)
async def get_channel(request: Request) -> Response:
    principal = await require(request)
    svc = services(request)
    async with svc.db() as db:
        channel = await own_channel(db, principal, request.path_params["channel_id"])
    return JSONResponse(channel_json(channel, svc.settings))


@declare(channels_contract.DELETE_CHANNEL)
async def delete_channel(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    async with services(request).db() as db:
        channel = await own_channel(db, principal, request.path_params["channel_id"])
        channel.disabled = True
        channel.secrets = None
        channel.public_key = None
        channel.ingest_token_hash = None
        await audit.by_principal(db, request, principal, "channel_deleted", "channel", channel.id)
        await db.commit()
    # Its visitors' sockets close on every process; its doors refuse from now on.
    await announce(services(request), gone("channel_deleted", "channel", channel.id))
    return Response(status_code=204)


routes = [
    Route("/api/channels", list_channels, methods=["GET"]),
    Route("/api/channels", create_channel, methods=["POST"]),
    Route("/api/channels/{channel_id}", get_channel, methods=["GET"]),
    Route("/api/channels/{channel_id}", delete_channel, methods=["DELETE"]),
]
