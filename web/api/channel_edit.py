"""Editing a channel in place: rename it, rotate its tokens and secrets, change a widget's
allowed origins, colour and title. Its id, and so its webhook URL, and its widget key stay
the same, so nothing has to be pasted at the provider or on the website again.

``PATCH /api/channels/{id} {name?, config?, rotate_ingest_token?}``: ``config`` holds only
the fields that change (``null`` clears an optional one); a secret given replaces the
stored one, a secret left out is kept. A custom channel's ingest token is rotated with
``rotate_ingest_token: true`` (the new one is answered once). A Viber channel whose auth
token changed is registered with Viber again; ``webhook_registered`` and, when Viber
refused, ``webhook_error`` (Viber's reason) say how that went.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.base import ProviderError
from web import audit
from web.api import validate
from web.api.account import services
from web.api.channels import channel_json, own_channel, split_config
from web.auth.channels import channel_secrets, seal_secrets
from web.auth.context import MANAGERS, require
from web.contracts import channel_edit as channel_edit_contract
from web.contracts.channels import CONFIGS
from web.crypto import DecryptError, random_token, sha256_hex
from web.operation import declare


@declare(channel_edit_contract.PATCH_CHANNEL)
async def patch_channel(request: Request) -> Response:
    principal = await require(request, roles=MANAGERS)
    body = await channel_edit_contract.PATCH_CHANNEL.parse(
        request, channel_edit_contract.ChannelPatch
    )
    svc = services(request)
    ingest_token: str | None = None
    async with svc.db() as db:
        channel = await own_channel(db, principal, request.path_params["channel_id"])
        try:
            old_secrets = channel_secrets(svc.settings, channel)
        except DecryptError:
            old_secrets = {}
        given = body.config or {}
        settings = CONFIGS[channel.kind].__struct_fields__
        unknown = sorted(set(given) - set(settings))
        if unknown:
            raise validate.invalid(f"config.{unknown[0]}", f"is not a {channel.kind} setting")
        readable, secrets = split_config(
            channel.kind, {**(channel.config or {}), **old_secrets, **given}
        )
        rotated = sorted(k for k in secrets if secrets.get(k) != old_secrets.get(k))
        if body.name is not None:
            channel.name = body.name
        channel.config = readable
        if rotated or set(secrets) != set(old_secrets):
            channel.secrets = seal_secrets(svc.settings, secrets)
        if body.rotate_ingest_token:
            if channel.kind != "custom":
                raise validate.invalid("rotate_ingest_token", "applies to custom channels only")
            ingest_token = random_token("ivi_", 32)
            channel.ingest_token_hash = sha256_hex(ingest_token)
            rotated.append("ingest_token")
        await audit.by_principal(db, request, principal, "channel_updated", "channel", channel.id)
        if rotated:
            await audit.by_principal(
                db, request, principal, "channel_secrets_rotated", "channel", channel.id
            )
        await db.commit()
    out = channel_json(channel, svc.settings)
    if ingest_token:
        out["ingest_token"] = ingest_token
    if channel.kind == "viber" and "auth_token" in rotated:
        out.update(await _register_viber(svc, channel.id))
    return JSONResponse(out)


async def _register_viber(svc: Any, channel_id: str) -> dict[str, Any]:
    from web.webhooks import register_viber_webhook

    try:
        await register_viber_webhook(svc, channel_id)
    except ProviderError as exc:
        return {"webhook_registered": False, "webhook_error": exc.for_people}
    except (LookupError, OSError):
        return {"webhook_registered": False, "webhook_error": "Viber could not be reached."}
    return {"webhook_registered": True}


routes = [Route("/api/channels/{channel_id}", patch_channel, methods=["PATCH"])]
