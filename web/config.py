"""Settings from the environment (twelve-factor), read once at start-up.

A missing or malformed setting stops start-up with one sentence naming it
(:class:`ConfigError`), never a traceback.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hub.ratelimit import Limit
from hub.redis_cluster import is_cluster_url, parse_cluster_url
from storage.db import BadDatabaseURL, normalize_url
from web import provider_origins

log = logging.getLogger("inviaro.config")

DEFAULT_DATABASE = "sqlite+aiosqlite:///./inviaro.db"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one sentence for the operator."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    public_url: str
    port: int = 8000
    max_frame_bytes: int = 64 * 1024
    send_queue_frames: int = 256
    heartbeat_s: float = 25.0
    session_idle_s: int = 12 * 3600
    session_absolute_s: int = 14 * 24 * 3600
    audit_retention_days: int = 90
    workspace_recovery_days: int = 90
    messages_per_10s: int = 50
    # Messages waiting for the database past which new ones are refused (503, 1013).
    writer_max_backlog: int = 10_000
    # On SIGTERM: how long requests in flight, then the writer's last commit, may take.
    shutdown_timeout_s: int = 10
    run_worker: bool = False  # the embedded default runs the worker's jobs in-process
    outbox_lease_s: int = 60
    # How long a contact message's flow event is left to the process that stored it (or
    # the worker that took it) before a worker takes it: the process may have died.
    flow_lease_s: int = 30
    # INVIARO_PROVIDER_ORIGINS: (provider origin, stand-in origin) pairs; empty in production.
    provider_origins: tuple[tuple[str, str], ...] = ()
    # A widget visitor token opens its conversation for this long; then the visitor starts
    # afresh. The ws_url of a widget session carries a connect ticket valid for seconds.
    visitor_token_days: int = 30
    widget_ticket_s: int = 60
    # Rate limits (see web/limits.py): generous enough never to meet a real user or a
    # provider's burst, tight enough that a flood from one address stops early.
    trusted_proxies: str = "127.0.0.1,::1"  # whose X-Forwarded-For names the client
    limit_login: Limit = Limit(10, 15 * 60)  # failed sign-ins per account and address
    limit_login_account: Limit = Limit(100, 3600)  # failed sign-ins per account, anywhere
    limit_login_address: Limit = Limit(50, 15 * 60)  # failed sign-ins per address
    limit_password_checks: Limit = Limit(10, 15 * 60)  # wrong passwords per signed-in operator
    limit_signup: Limit = Limit(20, 3600)  # sign-up attempts per address
    limit_widget_sessions: Limit = Limit(60, 60)  # widget sessions per address
    limit_widget_sessions_channel: Limit = Limit(6000, 60)  # widget sessions per channel
    limit_channel_requests: Limit = Limit(1000, 1)  # webhook and ingest requests per channel
    limit_api: Limit = Limit(3000, 60)  # API requests per operator (cookie or API token)
    limit_password_reset: Limit = Limit(5, 3600)  # reset requests per email, and x4 per address
    limit_account_links: Limit = Limit(30, 15 * 60)  # invite/reset link uses per address
    limit_uploads: Limit = Limit(100, 3600)  # files per visitor or operator, and per address
    visitor_sockets: int = 10  # sockets open at once per visitor token, per process
    # OAuth clients for calendar connections (docs/calendars.md); unset: connecting refused.
    google_client_id: str | None = None
    google_client_secret: str | None = None
    microsoft_client_id: str | None = None
    microsoft_client_secret: str | None = None
    # INVIARO_FLOW_HTTP_ALLOW_PRIVATE: flows' http steps may call private and loopback
    # addresses (tests, a hub beside the business's own services); off by default.
    flow_http_allow_private: bool = False
    # The AI provider (docs/ai.md): any OpenAI-compatible chat-completions API. Unset: no
    # AI anywhere. The key is never shown in a repr or a log line.
    ai_base_url: str | None = None
    ai_api_key: str | None = field(default=None, repr=False)
    ai_model: str = ""
    ai_region: str = ""
    ai_last_messages: int = 10  # the most conversation messages one AI call may carry
    ai_timeout_s: float = 20.0
    # Billing records (docs/billing.md): a module a hosting business turns on; off, every
    # billing route answers 404. Amounts are minor units (cents) per seat and month.
    billing: bool = False
    billing_retention_years: int = 10  # invoices and payments outlive their workspace
    billing_currency: str = "EUR"
    billing_vat_percent: int = 0
    billing_plans: tuple[tuple[str, int], ...] = (("standard", 1500),)
    billing_seller: tuple[str, ...] = ()  # the lines of the seller block on invoices
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    # Backups (docs/privacy.md): where they go (a directory or s3://bucket/prefix), the
    # key, and the S3-compatible endpoint with its keys (unset: AWS and boto3's own chain).
    backup_to: str | None = None
    backup_key: str | None = field(default=None, repr=False)
    backup_s3_endpoint: str | None = None
    backup_s3_region: str = "us-east-1"
    backup_s3_access_key_id: str | None = None
    backup_s3_secret_access_key: str | None = field(default=None, repr=False)
    # Mail (web/mail.py): INVIARO_SMTP_URL and INVIARO_MAIL_FROM. Unset: nothing is mailed;
    # invitation and reset links are copied from Settings or printed by the CLI instead.
    smtp_url: str | None = field(default=None, repr=False)  # may hold a password
    mail_from: str = ""
    invite_ttl_s: int = 7 * 24 * 3600  # an invitation link works this long, once
    reset_ttl_s: int = 3600  # a password-reset link works this long, once
    # Media files (storage/media.py): INVIARO_MEDIA_DIR (empty: ``media`` beside the SQLite
    # file, else ``./media``), the largest upload, INVIARO_MEDIA_MAX_BYTES, and what one
    # workspace may keep in all, INVIARO_MEDIA_QUOTA_BYTES (0: no limit).
    media_dir: str = ""
    media_max_bytes: int = 16 * 1024 * 1024
    media_quota_bytes: int = 5 * 1024**3
    media_link_s: int = 300  # a signed link to a file works this long

    @property
    def mail_configured(self) -> bool:
        return bool(self.smtp_url)

    @property
    def ai_configured(self) -> bool:
        """Whether the server names an AI provider (a workspace must still opt in)."""
        return bool(self.ai_base_url and self.ai_api_key and self.ai_model)

    @property
    def media_path(self) -> Path:
        """Where media files are kept: the setting, or beside the SQLite database."""
        if self.media_dir:
            return Path(self.media_dir)
        key_file = _key_file(self.database_url)
        if key_file is None or not self.database_url.startswith("sqlite"):
            return Path("media")
        return key_file.parent / "media"

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def ws_base(self) -> str:
        scheme, rest = self.public_url.split("://", 1)
        return ("wss://" if scheme == "https" else "ws://") + rest


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}.")
    return value


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600}


_LIMITS = {
    "limit_login": "INVIARO_LIMIT_LOGIN",
    "limit_login_account": "INVIARO_LIMIT_LOGIN_ACCOUNT",
    "limit_login_address": "INVIARO_LIMIT_LOGIN_ADDRESS",
    "limit_password_checks": "INVIARO_LIMIT_PASSWORD_CHECKS",
    "limit_signup": "INVIARO_LIMIT_SIGNUP",
    "limit_widget_sessions": "INVIARO_LIMIT_WIDGET_SESSIONS",
    "limit_widget_sessions_channel": "INVIARO_LIMIT_WIDGET_SESSIONS_CHANNEL",
    "limit_channel_requests": "INVIARO_LIMIT_CHANNEL_REQUESTS",
    "limit_api": "INVIARO_LIMIT_API",
    "limit_password_reset": "INVIARO_LIMIT_PASSWORD_RESET",
    "limit_account_links": "INVIARO_LIMIT_ACCOUNT_LINKS",
    "limit_uploads": "INVIARO_LIMIT_UPLOADS",
}


def _default(name: str) -> Limit:
    default = next(f.default for f in fields(Settings) if f.name == name)
    assert isinstance(default, Limit)
    return default


def _limits(env: Mapping[str, str]) -> dict[str, Any]:
    """Every ``limit_*`` setting, from its variable or its default."""
    return {name: _limit(env, var, _default(name)) for name, var in _LIMITS.items()}


def _limit(env: Mapping[str, str], name: str, default: Limit) -> Limit:
    """A rate such as ``10/15m``: that many per that period (``s``, ``m`` or ``h``)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    match = _RATE.match(raw)
    if match is None or int(match[1]) < 1 or match[2] == "0":
        raise ConfigError(
            f"{name} must be a count per period such as 10/15m (s, m or h), not {raw!r}."
        )
    return Limit(int(match[1]), int(match[2] or 1) * _UNIT_S[match[3]])


def _trusted_proxies(env: Mapping[str, str]) -> str:
    """Addresses or networks (comma-separated) whose X-Forwarded-For is believed, or ``*``."""
    raw = env.get("INVIARO_TRUSTED_PROXIES")
    if raw is None or raw.strip() == "":
        return "127.0.0.1,::1"
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if items != ["*"]:
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ConfigError(
                    "INVIARO_TRUSTED_PROXIES must list IP addresses or networks (or *), "
                    f"not {item!r}."
                ) from None
    return ",".join(items)


def _key_file(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite"):
        return Path("inviaro.secret")
    # "sqlite+aiosqlite://" and ":memory:" name no file, so there is nowhere to keep a key.
    _, sep, db_path = database_url.partition(":///")
    if not sep or not db_path or db_path == ":memory:":
        return None
    return Path(db_path).with_suffix(".secret")


def _read_key(key_file: Path) -> str:
    key = key_file.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"{key_file} holds no usable key; delete it, or set INVIARO_SECRET_KEY.")
    return key


def _secret_key(env: Mapping[str, str], database_url: str) -> str:
    key = env.get("INVIARO_SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ConfigError("INVIARO_SECRET_KEY must be at least 32 characters long.")
        return key
    # Embedded default: generate once and keep it beside the SQLite database.
    key_file = _key_file(database_url)
    if key_file is not None and key_file.exists():
        return _read_key(key_file)
    key = secrets.token_urlsafe(48)
    if key_file is not None:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Born readable by its owner only (never a moment world-readable); O_EXCL: a
            # process that started at the same time and wrote first keeps its key.
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_key(key_file)
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
    log.warning(
        "INVIARO_SECRET_KEY is not set: generated one and kept it in %s. "
        "Set INVIARO_SECRET_KEY in production.",
        key_file or "memory",
    )
    return key


def _redis_url(env: Mapping[str, str]) -> str | None:
    """``REDIS_URL``: one Redis, or a Redis Cluster named by ``redis+cluster://`` and some of
    its nodes (hub.redis_cluster); checked here so a typo stops start-up, not the bus."""
    url = env.get("REDIS_URL") or None
    if url is None or urlsplit(url).scheme in ("redis", "rediss", "unix"):
        return url
    if not is_cluster_url(url):
        raise ConfigError(
            "REDIS_URL must start with redis://, rediss://, unix:// or redis+cluster://, "
            f"not {url!r}."
        )
    try:
        parse_cluster_url(url)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL: {exc}.") from None
    return url


def load(env: Mapping[str, str] | None = None, *, port: int | None = None) -> Settings:
    """The settings from ``env`` (the process environment by default); ``port`` (the CLI's
    ``--port``) wins over ``PORT``."""
    env = os.environ if env is None else env
    try:
        database_url = normalize_url(env.get("DATABASE_URL") or DEFAULT_DATABASE)
    except BadDatabaseURL as exc:
        raise ConfigError(str(exc)) from None
    redis_url = _redis_url(env)
    port = port or _int(env, "PORT", 8000, 1, 65535)
    public_url = (env.get("INVIARO_PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/")
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"INVIARO_PUBLIC_URL must be an http:// or https:// origin, not {public_url!r}."
        )
    try:
        origins = provider_origins.parse(env.get("INVIARO_PROVIDER_ORIGINS") or "")
    except provider_origins.BadProviderOrigins as exc:
        raise ConfigError(f"INVIARO_PROVIDER_ORIGINS: {exc}.") from None
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=_secret_key(env, database_url),
        public_url=public_url,
        port=port,
        max_frame_bytes=_int(env, "INVIARO_MAX_FRAME_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
        send_queue_frames=_int(env, "INVIARO_SEND_QUEUE_FRAMES", 256, 8, 100_000),
        audit_retention_days=_int(env, "INVIARO_AUDIT_RETENTION_DAYS", 90, 1, 36500),
        messages_per_10s=_int(env, "INVIARO_MESSAGES_PER_10S", 50, 1, 1_000_000),
        heartbeat_s=_int(env, "INVIARO_HEARTBEAT_S", 25, 1, 300),
        writer_max_backlog=_int(env, "INVIARO_WRITER_MAX_BACKLOG", 10_000, 1, 10_000_000),
        shutdown_timeout_s=_int(env, "INVIARO_SHUTDOWN_TIMEOUT_S", 10, 1, 3600),
        run_worker=redis_url is None,
        outbox_lease_s=_int(env, "INVIARO_OUTBOX_LEASE_S", 60, 1, 86_400),
        flow_lease_s=_int(env, "INVIARO_FLOW_LEASE_S", 30, 1, 86_400),
        provider_origins=tuple(origins.items()),
        visitor_token_days=_int(env, "INVIARO_VISITOR_TOKEN_DAYS", 30, 1, 3650),
        trusted_proxies=_trusted_proxies(env),
        **_limits(env),
        visitor_sockets=_int(env, "INVIARO_VISITOR_SOCKETS", 10, 1, 1000),
        google_client_id=env.get("INVIARO_GOOGLE_CLIENT_ID") or None,
        google_client_secret=env.get("INVIARO_GOOGLE_CLIENT_SECRET") or None,
        microsoft_client_id=env.get("INVIARO_MICROSOFT_CLIENT_ID") or None,
        microsoft_client_secret=env.get("INVIARO_MICROSOFT_CLIENT_SECRET") or None,
        flow_http_allow_private=_yes_no(env, "INVIARO_FLOW_HTTP_ALLOW_PRIVATE"),
        media_dir=(env.get("INVIARO_MEDIA_DIR") or "").strip(),
        media_max_bytes=_int(
            env, "INVIARO_MEDIA_MAX_BYTES", 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024
        ),
        media_link_s=_int(env, "INVIARO_MEDIA_LINK_S", 300, 10, 3600),
        media_quota_bytes=_int(env, "INVIARO_MEDIA_QUOTA_BYTES", 5 * 1024**3, 0, 1024**5),
    )
    return _with_mail(_with_backups(_with_billing(_with_ai(settings, env), env), env), env)


SMTP_SCHEMES = ("smtp", "smtps", "smtp+starttls")


def _with_mail(settings: Settings, env: Mapping[str, str]) -> Settings:
    """``INVIARO_SMTP_URL`` (``smtp://user:pass@host:port``, ``smtps://`` or
    ``smtp+starttls://``) and the sender, ``INVIARO_MAIL_FROM`` (``INVIARO_SMTP_FROM`` is
    read too): both or neither."""
    url = (env.get("INVIARO_SMTP_URL") or "").strip()
    sender = (env.get("INVIARO_MAIL_FROM") or env.get("INVIARO_SMTP_FROM") or "").strip()
    if url:
        parts = urlsplit(url)
        try:
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            port_ok = False
        if parts.scheme not in SMTP_SCHEMES or not parts.hostname or not port_ok:
            # Never echo the URL: it may carry the SMTP password.
            raise ConfigError(
                "INVIARO_SMTP_URL must look like smtp://user:pass@host:port "
                "(or smtps://, smtp+starttls://)."
            )
        if not sender or "@" not in sender:
            raise ConfigError("INVIARO_MAIL_FROM must name the sender address beside SMTP.")
    return replace(
        settings,
        smtp_url=url or None,
        mail_from=sender,
        invite_ttl_s=_int(env, "INVIARO_INVITE_TTL_S", 7 * 24 * 3600, 60, 90 * 24 * 3600),
        reset_ttl_s=_int(env, "INVIARO_RESET_TTL_S", 3600, 60, 7 * 24 * 3600),
    )


def _with_ai(settings: Settings, env: Mapping[str, str]) -> Settings:
    """The AI provider's settings: all of base URL, key and model, or none of them."""
    base = (env.get("INVIARO_AI_BASE_URL") or "").rstrip("/")
    key = env.get("INVIARO_AI_API_KEY") or ""
    model = env.get("INVIARO_AI_MODEL") or ""
    given = [
        name
        for name, value in (
            ("INVIARO_AI_BASE_URL", base),
            ("INVIARO_AI_API_KEY", key),
            ("INVIARO_AI_MODEL", model),
        )
        if value
    ]
    if given and len(given) < 3:
        missing = {"INVIARO_AI_BASE_URL", "INVIARO_AI_API_KEY", "INVIARO_AI_MODEL"} - set(given)
        raise ConfigError(f"{', '.join(sorted(missing))} must be set beside {', '.join(given)}.")
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"INVIARO_AI_BASE_URL must be an http(s) URL, not {base!r}.")
    return replace(
        settings,
        ai_base_url=base or None,
        ai_api_key=key or None,
        ai_model=model,
        ai_region=(env.get("INVIARO_AI_REGION") or "").strip()[:100],
        ai_last_messages=_int(env, "INVIARO_AI_LAST_MESSAGES", 10, 1, 100),
        ai_timeout_s=float(_int(env, "INVIARO_AI_TIMEOUT_S", 20, 1, 300)),
    )


def _yes_no(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, not {value!r}.")


_PLAN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _plans(env: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """``INVIARO_BILLING_PLANS``: ``name=price,…``, each price in minor units per seat."""
    raw = (env.get("INVIARO_BILLING_PLANS") or "").strip()
    if not raw:
        return (("standard", 1500),)
    plans: list[tuple[str, int]] = []
    for item in (part.strip() for part in raw.split(",") if part.strip()):
        name, _, price = item.partition("=")
        name = name.strip()
        if not _PLAN.match(name) or not price.strip().isdigit():
            raise ConfigError(
                "INVIARO_BILLING_PLANS must list name=price pairs (price in cents per seat "
                f"and month), such as standard=1500,business=2900, not {item!r}."
            )
        plans.append((name, int(price)))
    return tuple(plans)


def _with_billing(settings: Settings, env: Mapping[str, str]) -> Settings:
    currency = (env.get("INVIARO_BILLING_CURRENCY") or "EUR").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigError(f"INVIARO_BILLING_CURRENCY must be an ISO 4217 code, not {currency!r}.")
    seller = env.get("INVIARO_BILLING_SELLER") or ""
    return replace(
        settings,
        billing=_yes_no(env, "INVIARO_BILLING"),
        billing_retention_years=_int(env, "INVIARO_BILLING_RETENTION_YEARS", 10, 1, 100),
        billing_currency=currency,
        billing_vat_percent=_int(env, "INVIARO_BILLING_VAT_PERCENT", 0, 0, 100),
        billing_plans=_plans(env),
        billing_seller=tuple(line.strip() for line in seller.split(";") if line.strip()),
        stripe_secret_key=env.get("INVIARO_STRIPE_SECRET_KEY") or None,
        stripe_webhook_secret=env.get("INVIARO_STRIPE_WEBHOOK_SECRET") or None,
    )


def _with_backups(settings: Settings, env: Mapping[str, str]) -> Settings:
    target = (env.get("INVIARO_BACKUP_DIR") or "").strip()
    key = env.get("INVIARO_BACKUP_KEY") or None
    endpoint = (env.get("INVIARO_BACKUP_S3_ENDPOINT") or "").strip().rstrip("/")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"INVIARO_BACKUP_S3_ENDPOINT must be an http(s) URL, not {endpoint!r}."
            )
    return replace(
        settings,
        backup_to=target or None,
        backup_key=key,
        backup_s3_endpoint=endpoint or None,
        backup_s3_region=(env.get("INVIARO_BACKUP_S3_REGION") or "us-east-1").strip(),
        backup_s3_access_key_id=env.get("INVIARO_BACKUP_S3_ACCESS_KEY_ID") or None,
        backup_s3_secret_access_key=env.get("INVIARO_BACKUP_S3_SECRET_ACCESS_KEY") or None,
    )
