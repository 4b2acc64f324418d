"""Fuzz the generated contract: schemathesis draws valid and invalid requests for every
operation of ``/openapi.json`` and sends them, signed in as an owner with a CSRF token, on
both databases. No answer is a 500, and every answer fits what its operation declares.

Deterministic (``derandomize``) and bounded (``EXAMPLES`` per operation and mode), so it
runs in CI in a few minutes; ``INVIARO_FUZZ_EXAMPLES`` raises the bound locally.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import LiveServer, make_settings, start_server
from tests.helpers import signup
from web.openapi import build
from web.routes import all_routes

EXAMPLES = int(os.environ.get("INVIARO_FUZZ_EXAMPLES") or 6)
# Operations whose success would end the fuzzer's own session or workspace.
SKIPPED = {("POST", "/api/logout"), ("DELETE", "/api/workspace"), ("POST", "/api/password")}
SCHEMA = schemathesis.openapi.from_dict(build(all_routes()))
OPERATIONS = [
    result.ok()
    for result in SCHEMA.get_all_operations()
    if (result.ok().method.upper(), result.ok().path) not in SKIPPED
]


def cases(operation: Any, mode: GenerationMode) -> list[Any]:
    """The first ``EXAMPLES`` cases hypothesis draws for ``operation``, always the same."""
    drawn: list[Any] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        drawn.append(case)

    try:
        collect()
    except Unsatisfiable:
        return []  # nothing in this operation can be made invalid (no body, no parameter)
    return drawn


@pytest.fixture(scope="module")
async def fuzzed(db_url: str) -> AsyncIterator[LiveServer]:
    """A server of its own: the fuzzer spends every per-address budget it meets (sign-up,
    password resets, link uses), which must not leave the shared server's tests refused."""
    live, server, task = await start_server(make_settings(db_url))
    yield live
    server.should_exit = True
    await task


@pytest.fixture
async def client(fuzzed: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with fuzzed.client() as c:
        yield c


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
async def test_no_operation_answers_500_or_outside_its_declared_schema(
    client: httpx.AsyncClient, mode: GenerationMode
) -> None:
    account = await signup(client)
    headers = {"X-CSRF-Token": account.csrf_token}
    failures: list[str] = []
    succeeded = 0
    for operation in OPERATIONS:
        for case in cases(operation, mode):
            kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
            content = _content(kwargs)
            sent = {
                k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "authorization"
            }
            try:
                response = await client.request(
                    kwargs["method"],
                    case.formatted_path,
                    params=kwargs.get("params"),
                    headers={**sent, **headers},
                    content=content,
                )
            except httpx.LocalProtocolError:
                continue  # a header value no HTTP client can send (CR, LF, NUL)
            succeeded += response.is_success
            try:
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )
            except Exception as exc:  # schemathesis raises a group of check failures
                failures.append(f"{operation.method.upper()} {case.formatted_path}: {exc}")
                break
    assert failures == [], "\n\n".join(failures)
    assert succeeded > 0, "signed in, some requests must have been answered 2xx"


def _content(kwargs: dict[str, Any]) -> bytes | None:
    """The body schemathesis serialised, as bytes (JSON, msgpack or raw)."""
    if "json" in kwargs:
        kwargs.setdefault("headers", {}).setdefault("Content-Type", "application/json")
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("content", kwargs.get("data"))
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, bytes):
        return data
    return None
