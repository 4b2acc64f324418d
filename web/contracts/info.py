"""The document's texts that belong to no one route: its description, tags, security
schemes and the WebSocket protocol (``x-websocket``)."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Any

from web.contracts.account import Token
from web.contracts.channels import (
    Channel,
    CustomConfig,
    InstagramConfig,
    MessengerConfig,
    ViberConfig,
    WhatsAppConfig,
    WidgetConfig,
)
from web.contracts.common import Conversation, Message

INFO: dict[str, Any] = {
    "title": "Inviaro hub API",
    "version": "1",
    "summary": "Self-hostable real-time messaging hub: operators' HTTP API, channel webhooks, ingest API and WebSockets.",
    "description": 'All JSON bodies are UTF-8 objects; times are RFC 3339 in UTC; ids are opaque strings.\n\n**Authentication.** Browsers use the session cookie set by `POST /api/signup` or `POST /api/login` and send the session\'s `X-CSRF-Token` on every POST, PATCH and DELETE. Integrations use `Authorization: Bearer <api token>` (from `POST /api/tokens`) and need no CSRF token. Custom channel adapters use their channel\'s ingest token on `POST /api/ingest/{channel_id}` only. Channel webhooks are authenticated by the provider\'s signature.\n\n**Errors** are always `{"error": "<code>", "detail": "<human sentence>"}` with a fitting status: 401 for missing/wrong/expired/revoked credentials, 403 for a missing or wrong CSRF token (`csrf`), a role that may not (`forbidden`) or pending workspace 2FA (`2fa_required`), 404 for another workspace\'s resources, 415 for a wrong Content-Type, 413 for a body over the limit, 422 for invalid fields, 429 when rate-limited. Bad input never answers 500. A human guide with examples is in `docs/api.md`; how to connect each channel is in `docs/channels.md`.\n\n\n## WebSockets (also machine-readable under `x-websocket`)\n\n`/ws/operator` (session cookie or `Authorization: Bearer <api token>`; a browser `Origin` must be the app\'s own or one of the workspace\'s `allowed_origins`) and `/ws/widget?token=<ticket>` (the `ws_url` of a widget session, whose connect ticket is valid for 60 s; the `Origin`, when sent, must be one of the widget channel\'s `allowed_origins`). A handshake without valid credentials or from an origin not allowed is refused with HTTP 403. Subprotocols: `inviaro.json` (text frames, the default) or `inviaro.msgpack` (binary frames; msgpack maps with the same keys).\n\nServer → client: `hello {protocol: 1, connection_id, heartbeat_s}` (first frame) · `message {message}` · `conversation {conversation}` (operators) · `typing {conversation_id, author, active}` · `presence {operator_id, online}` (operators) · `receipt {conversation_id, message_id, status}` · `ack {ref, message}` · `resumed {conversation_id, last_seq}` · `pong` · `error {ref?, code, detail}` with code `bad_frame`, `unknown_type`, `forbidden`, `not_found`, `too_large` or `rate_limited`.\n\nClient → server: `send {ref, conversation_id?, text, client_id?}` (visitors omit `conversation_id`) · `typing {conversation_id?, active}` · `read {conversation_id, seq}` · `resume {conversation_id, after_seq}` · `ping`.\n\nClose codes: 1008 policy (session ended or idle, token revoked, operator disabled, workspace or channel deleted, conversation erased, 2FA now required; on every process at once), 1009 frame larger than 64 KiB, 1011 internal error, 1012 server restarting (reconnect and resume), 1013 too slow or overloaded (reconnect and resume).\n',
    "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
}

TAGS: list[dict[str, str]] = [
    {"name": "account"},
    {"name": "workspace"},
    {"name": "channels"},
    {"name": "conversations"},
    {"name": "contacts"},
    {"name": "ingest"},
    {"name": "widget"},
    {"name": "webhooks"},
    {"name": "operations"},
    {"name": "pages"},
    {"name": "calendars"},
    {"name": "flows", "description": "Studio flows: drafts, validation, versions, simulation."},
    {"name": "teams", "description": "Teams of operators that flows route to."},
    {"name": "ai", "description": "Optional AI: operator assist and the AI call log (docs/ai.md)."},
    {"name": "admin"},
    {"name": "canned responses"},
    {"name": "reports", "description": "Customer satisfaction (CSAT) per operator and team."},
    {
        "name": "billing",
        "description": "Billing records when the server turns them on (INVIARO_BILLING; docs/billing.md).",
    },
]

SECURITY_SCHEMES: dict[str, Any] = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "inviaro_session",
        "description": "The session cookie set by signup/login (HttpOnly, SameSite=Lax).",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "The csrf_token of signup/login/me; required with the cookie on every POST, PATCH and DELETE (403 `csrf` otherwise).",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token from POST /api/tokens; needs no CSRF token.",
    },
    "visitorToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Visitor-Token",
        "description": "A widget visitor's visitor_token (POST /api/widget/sessions): their own conversation's files only.",
    },
    "ingestToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The ingest_token of a custom channel (POST /api/ingest/{channel_id} only).",
    },
}

WEBSOCKET: dict[str, Any] = {
    "endpoints": {
        "/ws/operator": {
            "auth": "session cookie or Authorization: Bearer <api token>",
            "origin": "the app's own origin or the workspace's allowed_origins; other origins get HTTP 403",
            "receives": "every conversation event of the operator's workspace",
        },
        "/ws/widget": {
            "auth": "query parameter token=<connect ticket> in the ws_url from POST /api/widget/sessions (valid for 60 s)",
            "origin": "one of the widget channel's allowed_origins (when an Origin is sent); else HTTP 403",
            "receives": "the visitor's own conversation only",
        },
    },
    "subprotocols": {
        "inviaro.json": "text frames holding JSON objects (the default)",
        "inviaro.msgpack": "binary frames holding msgpack maps with the same keys",
    },
    "max_frame_bytes": 65536,
    # "server_frames" and "client_frames": each frame's type to its schema, filled in by
    # web.openapi from the frames' Structs (web/contracts/websocket.py, hub/codec.py).
    "close_codes": {
        "1008": "policy: revoked session, disabled operator, erased conversation",
        "1009": "frame too large",
        "1011": "internal error",
        "1012": "server restarting: reconnect and resume",
        "1013": "too slow or overloaded: reconnect and resume",
    },
    "handshake_refusal": "HTTP 403 without valid credentials or from an Origin not allowed",
}

# Schemas named only inside a raw schema fragment (a ``oneOf`` msgspec cannot express).
ALSO_DOCUMENTED: tuple[Any, ...] = (
    Channel,
    Conversation,
    CustomConfig,
    InstagramConfig,
    Message,
    MessengerConfig,
    Token,
    ViberConfig,
    WhatsAppConfig,
    WidgetConfig,
)
