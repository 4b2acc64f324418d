"""``GET /openapi.json``: the OpenAPI 3.1 document, generated from the routes' declarations.

Every HTTP route of the app carries its :class:`web.operation.Operation` (see
:func:`web.operation.declare`); :func:`build` walks the app's routing table, so a route
without a declaration, or a declaration without a route, cannot go unnoticed
(``tests/web/test_openapi.py``). Component schemas come from the declared msgspec types
(``msgspec.json.schema_components``), from the flow document's own Structs and from the
WebSocket frames' Structs (``x-websocket`` names each frame's component).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from hub.flows.document import schema_components as flow_components
from web.contracts import operations as operations_contract
from web.contracts import websocket as websocket_contract
from web.contracts.info import ALSO_DOCUMENTED, INFO, SECURITY_SCHEMES, TAGS, WEBSOCKET
from web.operation import BODY_FAULTS, Error, Operation, declare, operations_of

REF = "#/components/schemas/{name}"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def declared(routes: Iterable[BaseRoute]) -> list[tuple[str, Operation]]:
    """(path, operation) of every declared HTTP route and mount, in routing order."""
    found: list[tuple[str, Operation]] = []
    for route in routes:
        if isinstance(route, Route):
            found += [(route.path, op) for op in operations_of(route.endpoint)]
        elif isinstance(route, Mount):
            found += [(route.path + "/{path}", op) for op in operations_of(route.app)]
    return found


def _types(ops: Sequence[Operation]) -> list[Any]:
    """Every type the operations name, once, in a stable order."""
    kinds: list[Any] = [Error, *ALSO_DOCUMENTED, *websocket_contract.SERVER_FRAMES]
    for op in ops:
        kinds += [p.kind for p in op.params]
        if op.body is not None:
            kinds.append(op.body)
        kinds += [a.body for a in op.answers.values() if a.body is not None]
    unique: list[Any] = []
    for kind in kinds:
        if not any(kind is seen for seen in unique):
            unique.append(kind)
    return unique


def _with_default(schema: dict[str, Any], default: Any) -> dict[str, Any]:
    if default is None:
        return schema
    if "$ref" in schema:
        return {"allOf": [schema], "default": default}
    return {**schema, "default": default}


def _operation(op: Operation, schema_of: dict[int, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags)}
    if op.description:
        out["description"] = op.description
    out["operationId"] = op.operation_id
    out["security"] = [dict(s) for s in op.security]
    if op.params:
        out["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "schema": _with_default(schema_of[id(p.kind)], p.default),
                **({"description": p.description} if p.description else {}),
            }
            for p in op.params
        ]
    if op.body is not None:
        body: dict[str, Any] = {
            "required": op.body_required,
            "content": {t: {"schema": schema_of[id(op.body)]} for t in op.body_media_types},
        }
        if op.body_description:
            body["description"] = op.body_description
        out["requestBody"] = body
    responses: dict[str, Any] = {}
    for status, answer in op.answers.items():
        entry: dict[str, Any] = {"description": answer.description}
        if answer.headers:
            entry["headers"] = dict(answer.headers)
        if answer.body is not None:
            content: dict[str, Any] = {"schema": schema_of[id(answer.body)]}
            if answer.example is not None:
                content["example"] = answer.example
            entry["content"] = {answer.media_type: content}
        responses[str(status)] = entry
    faults = list(op.faults)
    if op.body is not None and "application/json" in op.body_media_types:
        declared_statuses = {f.status for f in faults} | set(op.answers)
        faults += [f for f in BODY_FAULTS if f.status not in declared_statuses]
    for fault in faults:
        example = {"error": fault.code, "detail": fault.description}
        responses[str(fault.status)] = {
            "description": fault.description,
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(name="Error")},
                    "example": example,
                }
            },
        }
    out["responses"] = responses
    return out


def build(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The whole document for these routes."""
    pairs = declared(routes)
    kinds = _types([op for _, op in pairs])
    schemas, components = msgspec.json.schema_components(kinds, ref_template=REF)
    schema_of = {id(kind): schema for kind, schema in zip(kinds, schemas, strict=True)}
    components.update(flow_components()[1])
    client_frames = websocket_contract.client_frames()
    components.update(client_frames)
    server_frames, client_refs = websocket_contract.frame_refs(client_frames)
    paths: dict[str, dict[str, Any]] = {}
    for path, op in pairs:
        paths.setdefault(path, {})[op.method] = _operation(op, schema_of)
    document = {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": "/", "description": "INVIARO_PUBLIC_URL"}],
        "tags": TAGS,
        "security": [{"session": [], "csrf": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": SECURITY_SCHEMES,
        },
        "x-websocket": {**WEBSOCKET, "server_frames": server_frames, "client_frames": client_refs},
    }
    # JSON's types only: a Struct's tuple default (``()``) is written as the array it is.
    result: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(document))
    return result


def _document(request: Request) -> tuple[bytes, str]:
    """The document's bytes and a strong ETag (quoted), built once per app."""
    cached: tuple[bytes, str] | None = getattr(request.app.state, "openapi_document", None)
    if cached is None:
        body = msgspec.json.encode(build(request.app.routes))
        cached = body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        request.app.state.openapi_document = cached
    return cached


@declare(operations_contract.OPENAPI)
async def openapi_json(request: Request) -> Response:
    body, etag = _document(request)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
