"""Editing a channel in place: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from web.contracts.channels import Channel
from web.operation import ROLE_FORBIDDEN, UNAUTHORIZED, WRITE, Answer, Fault, Operation, Param


class ChannelPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    config: dict[str, Any] | None = None
    rotate_ingest_token: bool = False


# PATCH /api/channels/{channel_id}
PATCH_CHANNEL = Operation(
    method="patch",
    operation_id="patchChannel",
    summary="Edit a channel: name, settings, rotated secrets (the webhook URL and widget key stay)",
    tags=("channels",),
    security=WRITE,
    body=ChannelPatch,
    params=(Param("channel_id", where="path", required=True),),
    answers={
        200: Answer(
            "The channel (+ `ingest_token` once when rotated; + `webhook_registered`, `webhook_error` for a Viber token change).",
            body=Channel,
        )
    },
    faults=(
        UNAUTHORIZED,
        ROLE_FORBIDDEN,
        Fault(404, "not_found", "No such channel in your workspace."),
        Fault(422, "invalid", "A field is missing or invalid; the detail names it."),
    ),
)
