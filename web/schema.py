"""Request bodies as msgspec Structs: the Struct is the parser and the 422.

A route declares its body once, as a :class:`msgspec.Struct` with ``Meta`` constraints,
and calls :func:`parse_body`. A body that does not fit is answered 422 in the CONTRACT's
error shape, with ``problems``: one ``{field, detail}`` per field that is wrong (not only
the first, as msgspec itself stops at). Strings are stripped of surrounding space, except
the fields a Struct names in its ``keep_space`` ClassVar (passwords are compared as typed);
NUL is refused by :func:`web.errors.read_json` before any field is read.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from web.errors import ApiError, read_json

S = TypeVar("S", bound=msgspec.Struct)


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


def convert(data: dict[str, Any], kind: type[S], within: str = "") -> S:
    """``data`` as a ``kind``, or a 422 ``invalid`` listing every field's problem (named
    ``<within>.<field>`` for an object nested in a body)."""
    keep: frozenset[str] = getattr(kind, "keep_space", frozenset())
    cleaned = {k: v.strip() if isinstance(v, str) and k not in keep else v for k, v in data.items()}
    try:
        return msgspec.convert(cleaned, kind, strict=True)
    except msgspec.ValidationError as err:
        problems = problems_of(cleaned, kind) or [{"field": "", "detail": str(err)}]
        if within:
            problems = [
                {"field": f"{within}.{p['field']}", "detail": f"{within}.{p['detail']}"}
                for p in problems
            ]
        detail = " ".join(p["detail"] for p in problems)
        raise ApiError(422, "invalid", detail, extra={"problems": problems}) from None


async def parse_body(request: Request, kind: type[S]) -> S:
    """The request's JSON body as a ``kind`` (400 bad JSON, 413, 415 and 422 otherwise)."""
    return convert(await read_json(request), kind)
