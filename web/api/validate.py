"""What the declared Structs cannot say (web/contracts): origins normalised as browsers
send them and a bounded free-form object (each failure a 422 naming the field)."""

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
