"""What every channel adapter offers, and the registry that picks one by channel kind.

An adapter is sans-storage: it checks a webhook's signature, turns the provider's payload
into :mod:`hub.model` events, and sends a reply through an :class:`httpx.AsyncClient`
that the caller owns (tests hand it an ``httpx.MockTransport``). It never touches the
database, the bus or the web framework.

The caller's order on a webhook POST is fixed: read the raw body once, ``verify`` it
(refuse with 401 when False), then ``parse`` it (answer 400 on :class:`PayloadError`),
store the events, and only then answer 2xx.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import httpx

from hub.model import Attachment, ChannelEvent

__all__ = [
    "AdapterFactory",
    "ChannelAdapter",
    "ConfigError",
    "PayloadError",
    "ProviderError",
    "SendError",
    "SendResult",
    "UnknownChannelKind",
    "adapter_for",
    "adapter_kinds",
    "register",
]


class PayloadError(ValueError):
    """The webhook body is not what the provider documents (bad JSON, wrong shape).

    ``detail`` is a short human sentence, safe to log; it never quotes secrets.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigError(ValueError):
    """A channel's ``config`` lacks a field the adapter needs (answer 422 at creation)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownChannelKind(LookupError):
    """No adapter is registered for this channel kind (``widget`` and ``custom`` have none)."""


class ProviderError(Exception):
    """A call to a provider failed.

    ``retryable`` says whether the same call may succeed later (429, 5xx, timeouts,
    throttling codes); ``retry_after`` is the provider's hint in seconds, when it gave one.
    ``code`` is the provider's own error code as a string (Meta ``190``, Viber ``12``...).
    """

    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.detail!r}, retryable={self.retryable}, "
            f"retry_after={self.retry_after}, code={self.code!r})"
        )


class SendError(ProviderError):
    """An outbound message was not accepted. The worker retries only if ``retryable``."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider accepted the message; ``provider_message_id`` correlates later receipts.

    When a reply needs several provider messages (text plus attachments), the first id is
    ``provider_message_id`` and the rest are in ``extra_message_ids``.
    """

    provider_message_id: str
    extra_message_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, ids: Sequence[str]) -> SendResult:
        """The result of a reply sent as ``ids`` (at least one), in sending order."""
        return cls(ids[0], tuple(ids[1:]))


@runtime_checkable
class ChannelAdapter(Protocol):
    """One configured channel of one provider.

    - ``verify`` checks the signature over the raw body, before anything parses it; it
      never raises, a missing or malformed header is simply ``False``.
    - ``parse`` turns a verified body into events in document order; it raises only
      :class:`PayloadError`. An empty list is normal (events we deliberately ignore).
    - ``send`` posts one reply; it raises only :class:`SendError`. A :class:`SendResult`
      means the provider accepted it, not that it was delivered (receipts come later).
    """

    @property
    def kind(self) -> str:
        """The channel kind this adapter serves (``whatsapp``, ``viber``...)."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool: ...

    def parse(self, body: bytes) -> list[ChannelEvent]: ...

    async def send(
        self,
        client: httpx.AsyncClient,
        recipient_external_id: str,
        text: str,
        attachments: Sequence[Attachment] = (),
    ) -> SendResult: ...


AdapterFactory = Callable[[Mapping[str, Any]], ChannelAdapter]

_REGISTRY: dict[str, AdapterFactory] = {}


def register(kind: str) -> Callable[[AdapterFactory], AdapterFactory]:
    """Class decorator: make ``adapter_for(kind, config)`` build this adapter."""

    def decorate(factory: AdapterFactory) -> AdapterFactory:
        if kind in _REGISTRY:
            raise RuntimeError(f"an adapter for channel kind {kind!r} is already registered")
        _REGISTRY[kind] = factory
        return factory

    return decorate


def _load_builtin_adapters() -> None:
    # The provider modules register themselves on import; importing them here (not at the
    # top) keeps base.py free of an import cycle.
    from adapters import meta, viber  # noqa: F401


def adapter_kinds() -> frozenset[str]:
    """The channel kinds that have an adapter (webhooks and outbound sends)."""
    _load_builtin_adapters()
    return frozenset(_REGISTRY)


def adapter_for(kind: str, config: Mapping[str, Any]) -> ChannelAdapter:
    """The adapter for a channel, built from its stored ``config``.

    Raises :class:`UnknownChannelKind` for kinds without one, :class:`ConfigError` when a
    required config field is missing or not a non-empty string.
    """
    _load_builtin_adapters()
    try:
        factory = _REGISTRY[kind]
    except KeyError:
        raise UnknownChannelKind(f"no adapter for channel kind {kind!r}") from None
    return factory(config)


# Helpers shared by the provider modules ---------------------------------------------------


def require_str(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"channel config needs a non-empty string {key!r}")
    return value


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts and Starlette headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def hmac_sha256_hex(key: str, data: bytes) -> str:
    return hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest()


def hmac_sha256_hex_matches(key: str, body: bytes, signature: str) -> bool:
    expected = hmac_sha256_hex(key, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode())


def load_json_object(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None


def as_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    """A list field; an absent (None) field is an empty list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where} must be an array")
    return value


MAX_ID_CHARS = 200  # the database keeps provider ids in 200 characters


def as_id(value: Any, where: str) -> str:
    """Provider ids are strings to us, whether the JSON had a string or an integer.

    No real id is longer than 200 characters or holds a NUL; such an id is a bad payload."""
    if isinstance(value, str) and value:
        if len(value) > MAX_ID_CHARS or "\x00" in value:
            raise PayloadError(f"{where} is not a valid id")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise PayloadError(f"{where} must be a non-empty string or integer id")


def opt_str(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be a string")
    return value


def epoch_seconds(value: Any, where: str) -> datetime:
    """Unix seconds (WhatsApp sends them as a string) to an aware UTC datetime."""
    return _epoch(value, where, 1)


def epoch_millis(value: Any, where: str) -> datetime:
    """Unix milliseconds (Messenger, Instagram, Viber) to an aware UTC datetime."""
    return _epoch(value, where, 1000)


def _epoch(value: Any, where: str, per_second: int) -> datetime:
    if isinstance(value, str):
        try:
            number: float = int(value)
        except ValueError:
            try:
                # Be lenient with an ISO string (seen in some Meta fixtures).
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise PayloadError(f"{where} is not a timestamp") from None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    else:
        raise PayloadError(f"{where} is not a timestamp")
    try:
        return datetime.fromtimestamp(number / per_second, UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{where} is out of range") from None


def location_text(lat: float, lon: float, name: str | None, address: str | None) -> str:
    """A shared location as readable text: ``📍 name, address (lat, lon)``."""
    place = ", ".join(part for part in (name, address) if part)
    coordinates = f"({lat}, {lon})"
    return f"📍 {place} {coordinates}" if place else f"📍 {coordinates}"


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date)."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def require_content(text: str, attachments: Sequence[Attachment]) -> None:
    """Refuse (for good) a reply with neither text nor attachments."""
    if not text and not attachments:
        raise SendError("nothing to send: no text and no attachments", retryable=False)


def clip(text: str, limit: int) -> str:
    """``text`` cut to a provider's ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def numbered(text: str, options: Sequence[tuple[str, str]]) -> str:
    """A choice as plain text, for channels without buttons: the contact answers with the
    number or the label."""
    lines = [f"{value}. {label}" for label, value in options]
    return text + "\n\n" + "\n".join(lines)


def retryable_status(status_code: int) -> bool:
    """An HTTP status that may succeed on a later try: 429 (throttled) or any 5xx."""
    return status_code == 429 or status_code >= 500


def transport_error(
    exc: httpx.HTTPError, what: str, error: type[ProviderError] = SendError
) -> ProviderError:
    """A timeout or connection failure: the provider may not have seen the call; retry."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return error(f"{what} {kind}: {type(exc).__name__}", retryable=True)


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None
