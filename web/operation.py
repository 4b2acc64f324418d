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

from web.errors import ApiError
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
    params: tuple[Param, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    async def parse(self, request: Request, kind: type[S]) -> S:
        """The JSON body as ``kind`` (400, 413, 415, or 422 with every field's problem)."""
        return await parse_body(request, kind)

    def query(self, request: Request) -> dict[str, Any]:
        """The declared query parameters present, each converted to its declared type."""
        found: dict[str, Any] = {}
        problems: list[dict[str, str]] = []
        for param in self.params:
            if param.where != "query" or param.name not in request.query_params:
                continue
            raw = request.query_params[param.name]
            try:
                found[param.name] = msgspec.convert(raw, param.kind, strict=False)
            except msgspec.ValidationError as err:
                text = str(err).split(" - at `", 1)[0]
                problems.append({"field": param.name, "detail": f"{param.name}: {text}"})
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
NOT_FOUND = Fault(
    404,
    "not_found",
    "No such resource in your workspace (another workspace's resources answer 404 too).",
)
BAD_JSON = Fault(400, "bad_json", "The body is not valid JSON or not a JSON object.")
TOO_LARGE = Fault(413, "too_large", "The body is larger than 1 MiB.")
NOT_JSON = Fault(415, "unsupported_media_type", "The Content-Type is not JSON.")
BODY_FAULTS = (BAD_JSON, TOO_LARGE, NOT_JSON)
