"""The authenticated proxy for WhatsApp media.

WhatsApp webhooks carry a media id, not a URL: the file is fetched with the channel's
access token, which must never reach a browser. So a message's attachment URL points
here, and this route fetches the bytes for an operator of the channel's workspace.
The body is served as an attachment under a sandboxing CSP unless it is a plain image,
audio or video type, so a customer's file can never run script on the hub's origin, and
never stored by the browser's cache (it is a customer's file behind a sign-in).

The download carries the channel's access token, so it goes only to Meta's own media
hosts (:meth:`WhatsAppAdapter.is_media_host`): a lookup that names any other URL is
answered 502 and nothing is fetched from it.
"""

from __future__ import annotations

import logging
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.base import ConfigError, ProviderError
from adapters.meta import UntrustedMediaURL, WhatsAppAdapter
from web.app_state import services_of
from web.auth.channels import adapter_config, load_channel
from web.auth.context import require
from web.contracts import conversations as conversations_contract
from web.crypto import DecryptError
from web.errors import ApiError
from web.operation import declare

log = logging.getLogger("inviaro.media")

_MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_INLINE = ("image/jpeg", "image/png", "image/gif", "image/webp", "audio/", "video/")


@declare(conversations_contract.WHATSAPP_MEDIA)
async def whatsapp_media(request: Request) -> Response:
    """``GET /api/media/{channel_id}/{media_id}``: the file's bytes with its MIME type."""
    principal = await require(request)
    services = services_of(request)
    media_id = request.path_params["media_id"]
    async with services.db() as db:
        channel = await load_channel(db, request.path_params["channel_id"], kinds=("whatsapp",))
    if (
        channel is None
        or channel.workspace_id != principal.workspace_id
        or not _MEDIA_ID.match(media_id)
    ):
        raise ApiError(404, "not_found", "There is no such media file.")
    try:
        config = adapter_config(services.settings, channel.config, channel.secrets)
        adapter = WhatsAppAdapter.from_config(config)
    except (ConfigError, DecryptError):
        raise ApiError(
            503, "unavailable", "The channel's access token cannot be read; set it again."
        ) from None
    try:
        content, mime = await adapter.fetch_media(services.http, media_id)
    except UntrustedMediaURL as exc:
        log.warning("media %s of channel %s: %s", media_id, channel.id, exc.detail)
        raise ApiError(
            502, "bad_gateway", "WhatsApp named a file outside its own hosts; it was not fetched."
        ) from None
    except ProviderError as exc:
        log.info("media %s of channel %s: %s", media_id, channel.id, exc.detail)
        if exc.retryable:
            raise ApiError(503, "unavailable", "WhatsApp did not answer; retry.") from None
        raise ApiError(404, "not_found", "WhatsApp no longer has this media file.") from None
    headers = {"Cache-Control": "no-store"}
    if not mime.startswith(_INLINE):
        headers["Content-Disposition"] = "attachment"
        headers["Content-Security-Policy"] = "sandbox"
    return Response(content, media_type=mime, headers=headers)


routes = [Route("/api/media/{channel_id}/{media_id}", whatsapp_media, methods=["GET"])]
