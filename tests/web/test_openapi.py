"""The generated OpenAPI document: served at /openapi.json, valid, and naming every HTTP
route of the app's routing table (and nothing else), both ways."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from web.openapi import build
from web.routes import all_routes

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def spec() -> dict[str, Any]:
    return build(all_routes())


def http_routes() -> list[tuple[str, set[str]]]:
    """(path, methods) of every HTTP route; HEAD only where a route lists it itself."""
    out = []
    for route in all_routes():
        if isinstance(route, Route):
            methods = {m.lower() for m in route.methods or ()}
            if "head" in methods and not _explicit_head(route):
                methods.discard("head")  # Starlette adds HEAD to every GET route
            out.append((route.path, methods))
        elif isinstance(route, Mount):
            out.append((route.path + "/{path}", {"get"}))
    return out


def _explicit_head(route: Route) -> bool:
    return route.path == "/widget.js"


async def test_the_document_is_served_as_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == json.loads(json.dumps(spec()))
    again = await client.get("/openapi.json", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_the_document_is_valid_openapi_3_1() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    document = spec()
    assert document["openapi"].startswith("3.1")
    validator.validate(document)


def test_every_http_route_is_described_with_its_methods() -> None:
    paths = spec()["paths"]
    missing = [
        f"{method.upper()} {path}"
        for path, methods in http_routes()
        for method in sorted(methods)
        if method not in paths.get(path, {})
    ]
    assert missing == [], "routes without an OpenAPI description"


def test_every_tag_an_operation_uses_is_listed_in_the_document() -> None:
    document = spec()
    listed = {tag["name"] for tag in document["tags"]}
    used = {
        tag for item in document["paths"].values() for op in item.values() for tag in op["tags"]
    }
    assert used - listed == set()


def test_the_document_describes_no_route_that_does_not_exist() -> None:
    served = {(path, m) for path, methods in http_routes() for m in methods}
    described = {
        (path, method)
        for path, item in spec()["paths"].items()
        for method in item
        if method in METHODS
    }
    assert described - served == set()


def test_every_operation_has_responses_and_errors_use_the_error_shape() -> None:
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], f"{method} {path}"
            assert "security" in operation, f"{method} {path} says nothing about auth"
            for status, answer in operation["responses"].items():
                content = answer.get("content", {}).get("application/json", {})
                if status.startswith(("4", "5")) and content:
                    schema = content["schema"]
                    if path != "/readyz":
                        assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)


def test_every_operation_id_is_unique() -> None:
    ids = [
        op["operationId"]
        for item in spec()["paths"].values()
        for method, op in item.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids))


def test_declared_request_bodies_are_the_structs_the_document_names() -> None:
    from web.contracts import teams as teams_contract

    operation = spec()["paths"]["/api/teams"]["post"]
    assert teams_contract.CREATE_TEAM.body.__name__ == "TeamWrite"
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TeamWrite"
    }
    assert "TeamWrite" in spec()["components"]["schemas"]


def test_security_schemes_cover_cookie_bearer_and_csrf() -> None:
    schemes = spec()["components"]["securitySchemes"]
    assert schemes["session"] == {**schemes["session"], "type": "apiKey", "in": "cookie"}
    assert schemes["csrf"]["in"] == "header" and schemes["csrf"]["name"] == "X-CSRF-Token"
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"


def test_the_websocket_protocol_is_described() -> None:
    document = spec()
    ws_paths = {r.path for r in all_routes() if isinstance(r, WebSocketRoute)}
    described = document["x-websocket"]
    assert set(described["endpoints"]) == ws_paths
    assert set(described["server_frames"]) >= {
        "hello",
        "message",
        "conversation",
        "typing",
        "presence",
        "receipt",
        "ack",
        "resumed",
        "error",
    }
    assert set(described["client_frames"]) == {"send", "typing", "read", "resume", "ping"}
    assert set(described["close_codes"]) == {"1008", "1009", "1011", "1012", "1013"}
    for path in ws_paths:
        assert path in document["info"]["description"]


def test_the_flow_document_schema_is_the_one_the_code_parses_with() -> None:
    from hub.flows.document import schema_components

    schemas = spec()["components"]["schemas"]
    _, components = schema_components()
    assert {name: schemas.get(name) for name in components} == components
