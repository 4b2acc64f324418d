"""The chat-completions adapter (adapters/ai.py) against the fake provider on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.ai import AiFailure, Provider, complete
from tests.fake_ai import FakeAi, Reply, ok, running_fake_ai
from web import provider_origins


@pytest.fixture
async def fake() -> AsyncIterator[FakeAi]:
    async with running_fake_ai() as fake:
        yield fake


def client_to(fake: FakeAi, origin: str) -> httpx.AsyncClient:
    return provider_origins.client({origin: fake.url}, httpx.Timeout(5.0))


async def no_sleep(_seconds: float) -> None:
    return None


MESSAGES = [{"role": "user", "content": "hi"}]


async def test_openai_is_asked_not_to_store_the_completion(fake: FakeAi) -> None:
    fake.answer_with(ok({"a": 1}))
    async with client_to(fake, "https://api.openai.com") as http:
        answer = await complete(http, Provider("https://api.openai.com/v1", "k", "m"), MESSAGES)
    assert answer.content == {"a": 1}
    assert fake.requests[0]["store"] is False
    assert fake.headers[0]["authorization"] == "Bearer k"


async def test_azure_gets_its_api_key_header_and_no_bearer(fake: FakeAi) -> None:
    fake.answer_with(ok({"a": 1}))
    base = "https://acme.openai.azure.com/openai/deployments/gpt/v1"
    async with client_to(fake, "https://acme.openai.azure.com") as http:
        await complete(http, Provider(base, "azure-key", "gpt"), MESSAGES)
    assert fake.headers[0]["api-key"] == "azure-key"
    assert "authorization" not in fake.headers[0]
    assert fake.paths == ["/openai/deployments/gpt/v1/chat/completions"]


async def test_other_providers_get_no_store_field(fake: FakeAi) -> None:
    fake.answer_with(ok({"a": 1}))
    async with client_to(fake, "https://api.mistral.ai") as http:
        await complete(http, Provider("https://api.mistral.ai/v1", "k", "m"), MESSAGES)
    assert "store" not in fake.requests[0]


async def test_a_long_retry_after_fails_at_once_instead_of_waiting(fake: FakeAi) -> None:
    fake.answer_with(Reply(429, "later", {"retry-after": "3600"}))
    async with client_to(fake, "https://api.mistral.ai") as http:
        with pytest.raises(AiFailure, match="retry after"):
            await complete(http, Provider("https://api.mistral.ai/v1", "k", "m"), MESSAGES)
    assert len(fake.requests) == 1


async def test_retries_wait_longer_each_time_and_stop(fake: FakeAi) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    provider = Provider("https://api.mistral.ai/v1", "k", "m", attempts=4, backoff_s=0.5)
    async with client_to(fake, "https://api.mistral.ai") as http:
        with pytest.raises(AiFailure, match="HTTP 500 after 4 attempts"):
            await complete(http, provider, MESSAGES, sleep=sleep)
    assert waits == [0.5, 1.0, 2.0]
    assert len(fake.requests) == 4


async def test_an_answer_that_is_not_a_completion_is_a_failure(fake: FakeAi) -> None:
    fake.answer_with(Reply(200, raw=b'{"hello": "world"}'))
    async with client_to(fake, "https://api.mistral.ai") as http:
        with pytest.raises(AiFailure, match="not a chat-completions answer"):
            await complete(
                http, Provider("https://api.mistral.ai/v1", "k", "m"), MESSAGES, sleep=no_sleep
            )


async def test_an_unreachable_provider_is_a_failure_not_an_exception(fake: FakeAi) -> None:
    async with httpx.AsyncClient() as http:
        provider = Provider("http://127.0.0.1:9/v1", "k", "m", timeout_s=1.0)
        with pytest.raises(AiFailure, match="could not connect after 3 attempts"):
            await complete(http, provider, MESSAGES, sleep=no_sleep)
