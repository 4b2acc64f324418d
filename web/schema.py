"""Request bodies as msgspec Structs: the Struct is the parser and the 422.

A route declares its body once, as a :class:`msgspec.Struct` with ``Meta`` constraints
(and a ``__post_init__`` raising :class:`Invalid` for a rule across fields), and calls
:func:`parse_body`. A body that does not fit is answered 422 in the CONTRACT's error
shape, with ``problems``: one ``{field, detail}`` per field that is wrong (not only the
first, as msgspec itself stops at). Strings are stripped of surrounding space, except the
fields a Struct names in its ``keep_space`` ClassVar (passwords are compared as typed);
NUL is refused before any field is read.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import orjson
from starlette.requests import Request

from web.errors import MAX_JSON_BYTES, ApiError, read_body, refuse_nul

S = TypeVar("S", bound=msgspec.Struct)


class Invalid(ValueError):
    """Raised in a Struct's ``__post_init__``: ``field`` breaks a rule no single type says
    (one field against another, or a value only code can check). The 422 names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def _problem(name: str, err: msgspec.ValidationError) -> str:
    """msgspec's message for one field, without its ``- at `$`` path suffix."""
    text = str(err).split(" - at `", 1)[0]
    return f"{name}: {text}"


def problems_of(data: dict[str, Any], kind: type[msgspec.Struct]) -> list[dict[str, str]]:
    """Every field's problem with ``data`` as a ``kind``, in declaration order."""
    found: list[dict[str, str]] = []
    known = set()
    for f in msgspec.structs.fields(kind):
        known.add(f.encode_name)
        if f.encode_name not in data:
            if f.required:
                found.append({"field": f.encode_name, "detail": f"{f.encode_name} is required."})
            continue
        try:
            msgspec.convert(data[f.encode_name], f.type, strict=True)
        except msgspec.ValidationError as err:
            found.append({"field": f.encode_name, "detail": _problem(f.encode_name, err)})
    if kind.__struct_config__.forbid_unknown_fields:
        found += [
            {"field": k, "detail": f"{k} is not a field of this body."}
            for k in data
            if k not in known
        ]
    return found


def _whole(err: msgspec.ValidationError) -> list[dict[str, str]]:
    """The problem of a body whose every field fits: a rule across fields broke."""
    cause = err.__cause__
    if isinstance(cause, Invalid):
        return [{"field": cause.field, "detail": f"{cause.field}: {cause.detail}"}]
    return [{"field": "", "detail": str(err).split(" - at `$`", 1)[0]}]


def convert(data: dict[str, Any], kind: type[S], within: str = "") -> S:
    """``data`` as a ``kind``, or a 422 ``invalid`` listing every field's problem (named
    ``<within>.<field>`` for an object nested in a body)."""
    keep: frozenset[str] = getattr(kind, "keep_space", frozenset())
    cleaned = {k: v.strip() if isinstance(v, str) and k not in keep else v for k, v in data.items()}
    try:
        return msgspec.convert(cleaned, kind, strict=True)
    except msgspec.ValidationError as err:
        problems = problems_of(cleaned, kind) or _whole(err)
        if within:
            problems = [
                {"field": f"{within}.{p['field']}", "detail": f"{within}.{p['detail']}"}
                for p in problems
            ]
        detail = " ".join(p["detail"] for p in problems)
        raise ApiError(422, "invalid", detail, extra={"problems": problems}) from None


async def read_object(
    request: Request, max_bytes: int = MAX_JSON_BYTES, optional: bool = False
) -> dict[str, Any]:
    """The request's JSON object (``{}`` for no body at all when ``optional``), or an
    :class:`ApiError` that says what is wrong with it."""
    ctype = request.headers.get("content-type", "")
    if ctype and not ctype.split(";")[0].strip().lower().endswith("json"):
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    body = await read_body(request, max_bytes)
    if optional and not body:
        return {}
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "The body must be a JSON object.")
    # In JSON a NUL can only be written escaped; look for it only when the escape is there.
    if b"\\u0000" in body:
        refuse_nul(data)
    return data


async def parse_body(
    request: Request, kind: type[S], max_bytes: int = MAX_JSON_BYTES, optional: bool = False
) -> S:
    """The request's JSON body as a ``kind`` (400 bad JSON, 413, 415 and 422 otherwise)."""
    return convert(await read_object(request, max_bytes, optional), kind)
