"""One declaration per route: it parses the request and it is the route's OpenAPI operation.

A handler is decorated with :func:`declare` and an :class:`Operation` naming its request
body (a msgspec Struct), its query and path :class:`Param` s, its answers per status
(:class:`Answer`, each with a body type msgspec can describe) and the :class:`Fault` s it
can answer in the CONTRACT error shape. The handler parses with :meth:`Operation.parse`
and :meth:`Operation.query` (422 with every field's problem, see :mod:`web.schema`), and
:mod:`web.openapi` turns the declarations found in the app's routing table into
``/openapi.json``, so the document cannot say anything the code does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import msgspec
from starlette.requests import Request

from web.errors import MAX_JSON_BYTES, ApiError
from web.schema import S, convert, parse_body

F = TypeVar("F")

# Who may call: the OpenAPI ``security`` requirement of an operation.
Security = tuple[Mapping[str, list[str]], ...]
PUBLIC: Security = ()
READ: Security = ({"session": []}, {"bearer": []})
WRITE: Security = ({"session": [], "csrf": []}, {"bearer": []})
BROWSER_READ: Security = ({"session": []},)
BROWSER_WRITE: Security = ({"session": [], "csrf": []},)
INGEST: Security = ({"ingestToken": []},)


class Error(msgspec.Struct):
    """Every 4xx and 5xx answer: a stable code and a human sentence."""

    error: Annotated[str, msgspec.Meta(description="A stable snake_case code.")]
    detail: Annotated[str, msgspec.Meta(description="A human sentence.")]


@dataclass(frozen=True)
class Fault:
    """An error the route can answer: its status, its ``error`` code and when."""

    status: int
    code: str
    description: str


@dataclass(frozen=True)
class Answer:
    """A non-error answer: what it means and its body's type (``None``: no body)."""

    description: str
    body: Any = None
    media_type: str = "application/json"
    example: Any = None
    headers: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Param:
    """A query, path or header parameter; ``kind`` is any type msgspec can describe."""

    name: str
    kind: Any = str
    where: str = "query"
    description: str = ""
    required: bool = False
    default: Any = None

    def read(self, raw: str) -> Any:
        """``raw`` as a ``kind`` (:class:`msgspec.ValidationError` if it is not one). A
        whole number is ASCII digits only: msgspec alone would take ``1e2`` and ``1.0``."""
        if isinstance(_info(self.kind), msgspec.inspect.IntType):
            digits = raw[1:] if raw.startswith("-") else raw
            if not (digits.isascii() and digits.isdigit() and len(digits) <= 19):
                raise msgspec.ValidationError(f"{raw!r} is not a whole number")
            return msgspec.convert(int(raw), self.kind, strict=True)
        return msgspec.convert(raw, self.kind, strict=False)

    def sentence(self, what: str = "") -> str:
        """The 422 sentence of a bad value: what the parameter must be, from its type."""
        return f"The query parameter '{self.name}' {what or _must(self.kind)}."


def _info(kind: Any) -> msgspec.inspect.Type:
    """``kind``'s msgspec type, under any ``Meta`` that only describes it."""
    info = msgspec.inspect.type_info(kind)
    while isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    return info


def _must(kind: Any) -> str:
    """What a value of ``kind`` must be, in words."""
    info = _info(kind)
    if isinstance(info, msgspec.inspect.IntType):
        low = info.ge if info.ge is not None else 0
        high = f" to {info.le}" if info.le is not None else ""
        return f"must be a whole number from {low}{high}"
    if isinstance(info, msgspec.inspect.LiteralType):
        return "must be one of " + ", ".join(str(v) for v in info.values)
    if isinstance(info, msgspec.inspect.DateTimeType):
        return "must be an RFC 3339 time with an offset, e.g. 2026-12-08T09:00:00Z"
    if isinstance(info, msgspec.inspect.StrType) and info.max_length is not None:
        return f"must be at most {info.max_length} characters"
    if isinstance(info, msgspec.inspect.BoolType):
        return "must be true or false"
    return "is not valid"


@dataclass(frozen=True)
class Operation:
    """A route's whole contract for one HTTP method."""

    method: str
    operation_id: str
    summary: str
    tags: tuple[str, ...]
    answers: Mapping[int, Answer]
    faults: tuple[Fault, ...] = ()
    security: Security = READ
    description: str = ""
    body: Any = None
    body_media_types: tuple[str, ...] = ("application/json",)
    body_description: str = ""
    body_required: bool = True
    body_max_bytes: int = MAX_JSON_BYTES
    params: tuple[Param, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    async def parse(self, request: Request, kind: type[S]) -> S:
        """The JSON body as ``kind`` (400, 413, 415, or 422 with every field's problem); no
        body at all is ``{}`` where the body is not required."""
        return await parse_body(request, kind, self.body_max_bytes, not self.body_required)

    def query(self, request: Request) -> dict[str, Any]:
        """The declared query parameters, each converted to its declared type: a value
        sent empty counts as absent, an absent one is its ``default`` (left out when that
        is None); 422 listing every parameter's problem."""
        found: dict[str, Any] = {}
        problems: list[dict[str, str]] = []
        for param in self.params:
            if param.where != "query":
                continue
            raw = request.query_params.get(param.name, "")
            if raw == "":
                if param.required:
                    problems.append({"field": param.name, "detail": param.sentence("is required")})
                elif param.default is not None:
                    found[param.name] = param.default
                continue
            try:
                found[param.name] = param.read(raw)
            except msgspec.ValidationError:
                problems.append({"field": param.name, "detail": param.sentence()})
        if problems:
            detail = " ".join(p["detail"] for p in problems)
            raise ApiError(422, "invalid", detail, extra={"problems": problems})
        return found


def declare(*operations: Operation) -> Callable[[F], F]:
    """Attach ``operations`` (one per HTTP method) to a handler or a mounted app."""

    def attach(target: F) -> F:
        setattr(target, "__operations__", operations)  # noqa: B010  (also on instances)
        return target

    return attach


def operations_of(target: object) -> tuple[Operation, ...]:
    """What :func:`declare` attached to ``target`` (nothing if it was not declared)."""
    found: tuple[Operation, ...] = getattr(target, "__operations__", ())
    return found


def convert_body(data: dict[str, Any], kind: type[S]) -> S:
    """``data`` already read as JSON, as ``kind`` (the 422 of :func:`parse_body`)."""
    return convert(data, kind)


# Faults most routes share (their wording is the API reference's).
UNAUTHORIZED = Fault(401, "unauthorized", "Missing, wrong, expired or revoked credentials.")
FORBIDDEN = Fault(
    403,
    "csrf",
    "Missing or wrong X-CSRF-Token (code `csrf`), a role that may not do this "
    "(`forbidden`), or 2FA required by the workspace (`2fa_required`).",
)
ROLE_FORBIDDEN = Fault(
    403,
    "forbidden",
    "Missing or wrong X-CSRF-Token (`csrf`), or a role that may not do this (`forbidden`).",
)
NOT_FOUND = Fault(
    404,
    "not_found",
    "No such resource in your workspace (another workspace's resources answer 404 too).",
)
BAD_JSON = Fault(400, "bad_json", "The body is not valid JSON or not a JSON object.")
TOO_LARGE = Fault(413, "too_large", "The body is larger than 1 MiB.")
NOT_JSON = Fault(415, "unsupported_media_type", "The Content-Type is not JSON.")
BODY_FAULTS = (BAD_JSON, TOO_LARGE, NOT_JSON)
