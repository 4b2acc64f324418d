from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.base import ChannelAdapter, PayloadError, adapter_for, retry_after_seconds
from hub.model import ChannelEvent

PAYLOADS = Path(__file__).parent / "payloads"
CONFIGS: dict[str, dict[str, str]] = {
    "whatsapp": {
        "phone_number_id": "1",
        "access_token": "t",
        "app_secret": "s",
        "verify_token": "v",
    },
    "messenger": {"page_id": "1", "access_token": "t", "app_secret": "s", "verify_token": "v"},
    "instagram": {"account_id": "1", "access_token": "t", "app_secret": "s", "verify_token": "v"},
    "viber": {"auth_token": "t"},
}
FIXTURE_KIND = {"wa_": "whatsapp", "messenger_": "messenger", "instagram_": "instagram"}
REPLACEMENTS: list[Any] = [None, True, 0, -1, 1.5, 10**30, "", "x", [], {}, [None], {"a": None}]


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_every_registered_adapter_satisfies_the_protocol(kind: str) -> None:
    adapter = adapter_for(kind, CONFIGS[kind])
    assert isinstance(adapter, ChannelAdapter)
    assert adapter.kind == kind


def test_retry_after_accepts_an_http_date_in_the_past_as_zero() -> None:
    response = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after_seconds(response) == 0.0


def test_retry_after_ignores_garbage() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None


def _mutations(document: Any, rng: random.Random, count: int) -> list[Any]:
    """Copies of ``document`` with one random node replaced by a value of another type."""
    paths: list[list[Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, key])
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, [*path, index])

    walk(document, [])
    mutated = []
    for _ in range(count):
        copy = json.loads(json.dumps(document))
        path = rng.choice(paths)
        replacement = rng.choice(REPLACEMENTS)
        if not path:
            copy = replacement
        else:
            parent = copy
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = replacement
        mutated.append(copy)
    return mutated


def _parser(fixture: str) -> Callable[[bytes], list[ChannelEvent]]:
    kind = next((k for prefix, k in FIXTURE_KIND.items() if fixture.startswith(prefix)), "viber")
    return adapter_for(kind, CONFIGS[kind]).parse


@pytest.mark.parametrize(
    "fixture",
    sorted(p.name for p in PAYLOADS.glob("*.json") if not p.name.startswith(("google", "graph"))),
)
def test_mutated_payloads_give_events_or_payload_error_and_nothing_else(fixture: str) -> None:
    parse = _parser(fixture)
    document = json.loads((PAYLOADS / fixture).read_bytes())
    for mutated in _mutations(document, random.Random(fixture), 200):
        try:
            events = parse(json.dumps(mutated).encode())
        except PayloadError:
            continue
        assert isinstance(events, list)
