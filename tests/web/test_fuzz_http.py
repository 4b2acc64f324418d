"""Fuzz: malformed HTTP payloads at every unsafe API route, the webhooks and the ingest API.

The routes come from the OpenAPI document (which a test keeps in step with the app), so a
new route is fuzzed as soon as it is described. Every answer must be below 500, and every
4xx must be the ``{"error", "detail"}`` JSON shape; a refused request stores nothing
(messages, contacts, channels, operators, tokens are counted before and after). Seeded:
``INVIARO_FUZZ_SEED`` replays a failure.
"""

from __future__ import annotations

import copy as copy_module
import json
import os
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgpack
import pytest
from sqlalchemy import func, select

from storage import models as m
from tests.conftest import LiveServer, make_settings, start_server
from tests.helpers import Account, new_client, signup
from tests.web.realtime import started_visitor, widget_channel
from tests.web.webhook_hub import (
    APP_SECRET,
    VIBER_TOKEN,
    Hub,
    meta_headers,
    payload,
    viber_headers,
)
from web.openapi import build
from web.routes import all_routes

SEED = int(os.environ.get("INVIARO_FUZZ_SEED") or 20261129)  # fixed: runs repeat exactly
SPEC: dict[str, Any] = json.loads(json.dumps(build(all_routes())))
UNSAFE = ("post", "patch", "delete")
# Routes whose success would end the fuzzer's own session: fuzzed last, separately.
LAST = {("post", "/api/logout")}
JSON = {"Content-Type": "application/json"}

JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**31,
    2**63 - 1,
    -(2**63),
    10**30,
    "",
    "\x00",
    "x" * 5000,
    "🙂",
    [],
    [None],
    {},
    {"$gt": ""},
    [[[[[]]]]],
    {"a": {"b": {"c": {}}}},
]
TYPE_OF = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SPEC["components"]["schemas"][name]
    return schema


def allowed_types(schema: dict[str, Any]) -> set[str]:
    schema = resolve(schema)
    if "type" in schema:
        kinds = schema["type"]
        found = {kinds} if isinstance(kinds, str) else set(kinds)
        if "number" in found:
            found.add("integer")
        return found
    if "oneOf" in schema:
        return set().union(*(allowed_types(s) for s in schema["oneOf"]))
    if "allOf" in schema:
        return {"object"}
    if "enum" in schema:
        return {TYPE_OF[type(v)] for v in schema["enum"]}
    return {"null", "boolean", "integer", "number", "string", "array", "object"}


def wrong_value(rng: random.Random, schema: dict[str, Any]) -> Any:
    """A value the schema does not allow: a wrong JSON type, or a string outside an enum."""
    allowed = allowed_types(schema)
    enum = resolve(schema).get("enum")
    choices = [v for v in JUNK if TYPE_OF[type(v)] not in allowed]
    if enum is not None:
        choices += ["not-a-choice", "OWNER", " open", "widget\x00"]
    return rng.choice(choices) if choices else rng.choice(["\x00" * 3, "x" * 5000])


def wrong_objects(rng: random.Random, schema: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Objects whose every property is of a wrong type (so none can be a valid request)."""
    properties = resolve(schema).get("properties", {})
    out = []
    for _ in range(count):
        if not properties:
            out.append({"junk": rng.choice(JUNK)})
            continue
        names = list(properties)
        picked = rng.sample(names, rng.randint(1, len(names)))
        required = set(resolve(schema).get("required", ()))
        body = {name: wrong_value(rng, properties[name]) for name in set(picked) | required}
        out.append(body)
    return out


def malformed(rng: random.Random) -> list[tuple[bytes, dict[str, str]]]:
    """Bodies that are not a JSON object, or not JSON, or not sent as JSON."""
    bodies: list[tuple[bytes, dict[str, str]]] = [
        (b"", JSON),
        (b"{", JSON),
        (b'{"text": "ab', JSON),
        (b"[1, 2, 3]", JSON),
        (b'"a string"', JSON),
        (b"42", JSON),
        (b"null", JSON),
        (b"true", JSON),
        (b"\xff\xfe\x00{}", JSON),
        (b"{'single': 'quotes'}", JSON),
        (b'{"a": NaN}', JSON),
        (b'{"a": 1e999999}', JSON),
        (b"[" * 50_000 + b"]" * 50_000, JSON),
        (b'{"x": ' * 3000 + b"1" + b"}" * 3000, JSON),
        (b"{}", {"Content-Type": "text/plain"}),
        (b"a=1&b=2", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b"--x\r\n\r\n--x--", {"Content-Type": "multipart/form-data; boundary=x"}),
        (b"<a/>", {"Content-Type": "application/xml"}),
        (msgpack.packb({"text": "hi"}), {"Content-Type": "application/msgpack"}),
        (b"{}", {"Content-Type": "application/json; charset=ebcdic"}),
    ]
    for _ in range(6):
        bodies.append((rng.randbytes(rng.randint(1, 2000)), JSON))
    return bodies


HUGE = b'{"text": "' + b"x" * (5 * 1024 * 1024) + b'"}'


def is_error(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    # CONTRACT.md: an invalid flow's 422 also lists its problems, each on its step.
    return (
        isinstance(body, dict)
        and set(body) - {"problems"} == {"error", "detail"}  # a 422 may list each problem
        and all(isinstance(body[k], str) and body[k] for k in ("error", "detail"))
        and isinstance(body.get("problems", []), list)
    )


@dataclass
class Scene:
    live: LiveServer
    owner: Account
    hub: Hub
    ids: dict[str, str]

    async def counts(self) -> dict[str, int]:
        services: Any = self.live.app.state.services  # type: ignore[attr-defined]
        out = {}
        async with services.engine.connect() as conn:
            for model in (m.Message, m.Contact, m.Channel, m.Operator, m.ApiToken, m.Workspace):
                query = select(func.count()).select_from(model)
                out[model.__name__] = int(await conn.scalar(query))
        return out


@pytest.fixture(scope="module")
async def live(db_url: str) -> AsyncIterator[LiveServer]:
    """A server of its own: the fuzzer spends per-address budgets (sign-up, password
    resets, link uses) that must not leave the shared server's tests refused."""
    server_live, server, task = await start_server(make_settings(db_url))
    yield server_live
    server.should_exit = True
    await task


@pytest.fixture
async def scene(live: LiveServer) -> AsyncIterator[Scene]:
    client = new_client(live.url)
    owner = await signup(client, workspace="HttpFuzz")
    hub = Hub(live, owner)
    widget = await widget_channel(owner)
    session = await started_visitor(owner, widget)
    conversation = await owner.get(f"/api/conversations/{session['conversation_id']}")
    whatsapp = await hub.channel("whatsapp")

    def viber_api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": 0, "status_message": "ok", "event_types": []})

    async with hub.mock(viber_api):
        viber = await hub.channel("viber")
    custom = await owner.post("/api/channels", json={"kind": "custom", "name": "Own"})
    ids = {
        "id": session["conversation_id"],
        "contact_id": conversation.json()["contact"]["id"],
        "operator_id": owner.operator_id,
        "whatsapp": whatsapp,
        "viber": viber,
        "custom": custom.json()["id"],
        "ingest_token": custom.json()["ingest_token"],
    }
    yield Scene(live, owner, hub, ids)
    await client.aclose()


def operations(method_filter: tuple[str, ...]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method in method_filter and path.startswith("/api/"):
                out.append((method, path, operation))
    return out


def fill(path: str, scene: Scene, rng: random.Random, method: str) -> str:
    """Real ids where a refused body must be checked before anything happens; never a real
    id on DELETE, whose body is irrelevant (a real one would simply delete)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if method == "delete" or name not in scene.ids:
            return rng.choice(["zz_nope", "x" * 300, "%00", "..%2F..", "1 OR 1=1", "🙂"])
        if name == "channel_id":
            return scene.ids["custom"]
        return scene.ids[name]

    return re.sub(r"\{([a-z_]+)\}", one, path)


async def test_unsafe_api_routes_refuse_malformed_bodies_without_500(scene: Scene) -> None:
    rng = random.Random(SEED)
    owner = scene.owner
    before = await scene.counts()
    failures: list[str] = []
    sent = 0
    for method, path, operation in operations(UNSAFE):
        if (method, path) in LAST or path.startswith("/api/ingest/"):
            continue
        schema = (
            operation.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {"type": "object", "properties": {}})
        )
        cases = malformed(rng) + [
            (json.dumps(body).encode(), JSON) for body in wrong_objects(rng, schema, 25)
        ]
        cases.append((HUGE, JSON))
        for body, headers in cases:
            url = fill(path, scene, rng, method)
            response = await owner.client.request(
                method.upper(), url, content=body, headers={**headers, **owner.csrf}
            )
            sent += 1
            if response.status_code >= 500 or (
                response.status_code >= 400 and not is_error(response)
            ):
                answer = f"{response.status_code} {response.text[:120]}"
                failures.append(f"{method.upper()} {path} {body[:60]!r} -> {answer}")
    assert failures == [], f"seed {SEED}:\n" + "\n".join(failures[:30])
    assert sent > 500
    assert await scene.counts() == before
    assert (await owner.get("/api/me")).status_code == 200  # the session survived it all


async def test_logout_and_public_routes_refuse_malformed_bodies(scene: Scene) -> None:
    rng = random.Random(SEED)
    before = await scene.counts()
    async with scene.live.client() as anonymous:
        for path in ("/api/signup", "/api/login", "/api/widget/sessions", "/api/logout"):
            schema = SPEC["paths"][path]["post"].get("requestBody", {})
            schema = schema.get("content", {}).get("application/json", {}).get("schema", {})
            cases = malformed(rng) + [
                (json.dumps(b).encode(), JSON) for b in wrong_objects(rng, schema or {}, 25)
            ]
            for body, headers in [*cases, (HUGE, JSON)]:
                response = await anonymous.post(path, content=body, headers=headers)
                assert response.status_code < 500 and is_error(response), (
                    f"seed {SEED}: POST {path} {body[:60]!r} -> {response.status_code}"
                )
    assert await scene.counts() == before


def mutations(rng: random.Random, document: Any, count: int) -> list[Any]:
    """Copies of ``document`` with 1-3 random subtrees replaced, removed or retyped."""

    def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [prefix]
        if isinstance(node, dict):
            for key, value in node.items():
                found += paths(value, (*prefix, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                found += paths(value, (*prefix, index))
        return found

    out = []
    for _ in range(count):
        copy = json.loads(json.dumps(document))
        for _ in range(rng.randint(1, 3)):
            candidates = paths(copy)[1:]
            if not candidates:
                break
            target = rng.choice(candidates)
            parent = copy
            for step in target[:-1]:
                parent = parent[step]
            if isinstance(parent, dict) and rng.random() < 0.25:
                parent.pop(target[-1], None)
            else:
                parent[target[-1]] = copy_module.deepcopy(rng.choice(JUNK))
        out.append(copy)
    return out


async def test_webhooks_refuse_malformed_payloads_and_store_nothing(scene: Scene) -> None:
    rng = random.Random(SEED)
    hub, ids = scene.hub, scene.ids
    docs_meta = [
        payload(n)
        for n in ("wa_text.json", "wa_image.json", "wa_status_failed.json", "wa_batch.json")
    ]
    docs_viber = [
        payload(n)
        for n in ("viber_message_text.json", "viber_message_picture.json", "viber_delivered.json")
    ]
    bodies: list[bytes] = [b"", b"{", b"[]", b"null", b'{"object": 1}', b"[" * 50_000]
    bodies += [rng.randbytes(rng.randint(1, 3000)) for _ in range(20)]
    problems: list[str] = []

    async def check(
        client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], ok: set[int]
    ) -> None:
        before = (await scene.counts())["Message"]
        response = await client.post(url, content=body, headers=headers)
        if response.status_code not in ok or (
            response.status_code >= 400 and not is_error(response)
        ):
            problems.append(f"{url} {body!r:.2000} -> {response.status_code} {response.text[:100]}")
        if response.status_code >= 400 and (await scene.counts())["Message"] != before:
            problems.append(f"{url} {body[:60]!r} -> {response.status_code} but stored")

    async with hub.live.client() as client:
        meta = f"/webhooks/meta/{ids['whatsapp']}"
        viber = f"/webhooks/viber/{ids['viber']}"
        for body in bodies:
            # Signed junk is authentic but not a payload: 400 (a signed ``[]`` holds no
            # events and may be acknowledged).
            await check(client, meta, body, meta_headers(body), {200, 400})
            await check(client, meta, body, JSON, {401})
            await check(client, viber, body, viber_headers(body), {400})
            await check(client, viber, body, viber_headers(body, "wrong"), {401})
        for document in docs_meta:
            for mutated in mutations(rng, document, 40):
                body = json.dumps(mutated).encode()
                await check(client, meta, body, meta_headers(body), {200, 400})
                await check(client, meta, body, meta_headers(body, APP_SECRET + "x"), {401})
        for document in docs_viber:
            for mutated in mutations(rng, document, 40):
                body = json.dumps(mutated).encode()
                await check(client, viber, body, viber_headers(body), {200, 400})
                await check(client, viber, body, viber_headers(body, VIBER_TOKEN[:-1]), {401})
        huge = b" " * (5 * 1024 * 1024)
        await check(client, meta, huge, meta_headers(huge), {413})
        await check(client, viber, huge, viber_headers(huge), {413})
        for junk_id in ("zz_nope", "x" * 500):
            await check(client, f"/webhooks/meta/{junk_id}", b"{}", meta_headers(b"{}"), {404})
        # A NUL anywhere in the URL is refused before routing.
        await check(client, "/webhooks/meta/%00", b"{}", meta_headers(b"{}"), {422})
        params = [
            {},
            {"hub.mode": "subscribe"},
            {"hub.mode": ["a", "b"], "hub.verify_token": "\x00"},
        ]
        for query in params:
            response = await client.get(meta, params=query)
            assert response.status_code in (400, 403, 422) and is_error(response)
    assert problems == [], f"seed {SEED}:\n" + "\n".join(problems[:30])


async def test_ingest_refuses_malformed_payloads_and_stores_nothing(scene: Scene) -> None:
    rng = random.Random(SEED)
    url = f"/api/ingest/{scene.ids['custom']}"
    auth = {"Authorization": f"Bearer {scene.ids['ingest_token']}"}
    valid = {
        "messages": [
            {"external_id": "m-1", "contact": {"external_id": "u-1", "name": "Ann"}, "text": "hi"},
            {
                "external_id": "m-2",
                "contact": {"external_id": "u-2"},
                "text": "yo",
                "attachments": [{"url": "https://x.example/a.png", "size": 3}],
                "sent_at": "2026-01-01T00:00:00Z",
            },
        ]
    }
    before = await scene.counts()
    cases: list[tuple[bytes, dict[str, str]]] = []
    for body, headers in malformed(rng):
        cases.append((body, {**headers, **auth}))
    for mutated in mutations(rng, valid, 150):
        # Break at least one message for sure: then nothing of the request may be stored.
        messages = mutated.get("messages") if isinstance(mutated, dict) else None
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
            messages[-1]["contact"] = rng.choice([None, "u-1", [], {"name": "no id"}])
        cases.append((json.dumps(mutated).encode(), {**JSON, **auth}))
        try:
            packed = msgpack.packb(mutated, use_bin_type=True)
        except OverflowError:  # 10**30 has no msgpack form
            packed = msgpack.packb({"messages": [mutated]}, default=str)
        cases.append((packed, {"Content-Type": "application/msgpack", **auth}))
        cases.append(
            (
                packed[: rng.randint(0, len(packed) - 1)],
                {"Content-Type": "application/msgpack", **auth},
            )
        )
    for raw in (
        b"\xdd\xff\xff\xff\xff",
        b"\xc1",
        msgpack.packb({1: 2}),
        msgpack.packb(msgpack.ExtType(1, b"x")),
    ):
        cases.append((raw, {"Content-Type": "application/msgpack", **auth}))
    good = json.dumps(valid).encode()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic x"},
        {"Authorization": "Bearer"},
    ):
        cases.append((good, {**JSON, **headers}))
    cases.append((b"{" + b" " * (5 * 1024 * 1024) + b"}", {**JSON, **auth}))
    async with scene.live.client() as client:
        for body, headers in cases:
            response = await client.post(url, content=body, headers=headers)
            assert 400 <= response.status_code < 500 and is_error(response), (
                f"seed {SEED}: {body[:80]!r} -> {response.status_code} {response.text[:120]}"
            )
        for junk_id in ("zz_nope", scene.ids["whatsapp"]):
            response = await client.post(
                f"/api/ingest/{junk_id}", content=good, headers={**JSON, **auth}
            )
            assert response.status_code == 401 and is_error(response)
    assert await scene.counts() == before
