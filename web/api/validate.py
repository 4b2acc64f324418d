"""What the declared Structs cannot say (web/contracts): origins normalised as browsers
send them, a bounded free-form object, and the listings' query numbers (each failure a 422
naming the field)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from web.errors import ApiError


def invalid(name: str, sentence: str) -> ApiError:
    return ApiError(422, "invalid", f"The field '{name}' {sentence}.")


def origin(value: Any, name: str) -> str:
    """``scheme://host[:port]`` exactly, as browsers send it in ``Origin``."""
    if not isinstance(value, str) or len(value) > 300:
        raise invalid(name, "must hold origins such as https://example.com")
    parts = urlsplit(value.strip().rstrip("/"))
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise invalid(name, f"must hold origins such as https://example.com, not {value!r}")
    try:
        port = parts.port
    except ValueError:
        raise invalid(name, f"has a bad port in {value!r}") from None
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def origins(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or len(value) > 100:
        raise invalid(name, "must be a list of at most 100 origins")
    out: list[str] = []
    for item in value:
        normal = origin(item, name)
        if normal not in out:
            out.append(normal)
    return out


def small_object(value: Any, name: str, max_bytes: int = 16 * 1024) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(name, "must be an object")
    if len(orjson.dumps(value)) > max_bytes:
        raise invalid(name, f"is larger than {max_bytes} bytes")
    return value


def query_limit(raw: str | None, default: int = 50, high: int = 200) -> int:
    """The ``limit`` query parameter: ``default`` when absent or empty, else a whole number
    from 1 to ``high`` (422 otherwise)."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and 1 <= int(raw) <= high):
        raise ApiError(
            422, "invalid", f"The query parameter 'limit' must be a whole number from 1 to {high}."
        )
    return int(raw)


INT64_MAX = 2**63 - 1


def query_int(raw: str | None, name: str, high: int = INT64_MAX) -> int | None:
    """A whole-number query parameter: None when absent or empty, else ASCII digits worth
    at most ``high`` (422 otherwise). ``str.isdigit`` alone would take ``²``, which
    ``int()`` refuses, and a database column refuses numbers past 64 bits."""
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high))) or int(raw) > high:
        raise ApiError(
            422, "invalid", f"The query parameter '{name}' must be a whole number from 0 to {high}."
        )
    return int(raw)
