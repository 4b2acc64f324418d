"""An OpenAI-compatible chat-completions provider (OpenAI, Azure OpenAI, Mistral, vLLM,
Ollama, llama.cpp server...): one POST to ``<base>/chat/completions``.

The caller's ``httpx.AsyncClient`` is the process's client for outside calls, so
``INVIARO_PROVIDER_ORIGINS`` points it at a stand-in in tests. Each call is bounded: a
timeout per attempt, at most ``attempts`` attempts, retried only on 429 and 5xx (and on a
timeout or a dropped connection) with a growing pause that honours a short
``Retry-After``. Anything else that goes wrong, an answer that is not the JSON object
asked for included, is an :class:`AiFailure` with a short reason the caller turns into
a fallback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

MAX_RETRY_AFTER_S = 5.0  # a longer Retry-After is a failure now, not a wait


class AiFailure(Exception):
    """The provider gave no usable answer; ``reason`` is a few words for the call log."""

    def __init__(self, reason: str, *, tokens: tuple[int, int] = (0, 0)) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tokens = tokens  # (prompt, completion) the provider counted, if it answered


@dataclass(frozen=True, slots=True)
class Provider:
    base_url: str
    api_key: str
    model: str
    timeout_s: float = 20.0
    attempts: int = 3
    backoff_s: float = 0.5  # the pause after the first failed attempt; doubles after each

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/chat/completions"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def is_azure(self) -> bool:
        return self.host.endswith(".openai.azure.com")

    @property
    def honours_store(self) -> bool:
        """Whether the API takes ``store: false`` (do not keep this completion): OpenAI's
        parameter, which other APIs need not accept (docs/ai.md)."""
        return self.host == "api.openai.com" or self.is_azure


@dataclass(frozen=True, slots=True)
class Answer:
    content: Any  # the parsed JSON object, or the text when no JSON was asked for
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int


Sleep = Callable[[float], Awaitable[None]]


def request_body(provider: Provider, messages: list[dict[str, str]], json_mode: bool) -> bytes:
    body: dict[str, Any] = {"model": provider.model, "messages": messages, "temperature": 0}
    if json_mode:
        body["response_format"] = {"type": "json_object"}
    if provider.honours_store:
        body["store"] = False
    return orjson.dumps(body)


def _headers(provider: Provider) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if provider.is_azure:
        headers["api-key"] = provider.api_key
    else:
        headers["Authorization"] = f"Bearer {provider.api_key}"
    return headers


async def complete(
    http: httpx.AsyncClient,
    provider: Provider,
    messages: list[dict[str, str]],
    *,
    json_mode: bool = True,
    sleep: Sleep = asyncio.sleep,
) -> Answer:
    """One chat completion; raises :class:`AiFailure` when no usable answer came."""
    body = request_body(provider, messages, json_mode)
    pause = provider.backoff_s
    reason = "no attempt"
    for attempt in range(1, provider.attempts + 1):
        wait = pause
        try:
            response = await http.post(
                provider.url, content=body, headers=_headers(provider), timeout=provider.timeout_s
            )
        except httpx.TimeoutException:
            reason = "timed out"
        except httpx.TransportError:
            reason = "could not connect"
        else:
            if response.status_code == 200:
                return _read(response, json_mode, attempt)
            reason = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                raise AiFailure(reason)
            after = _retry_after(response)
            if after is not None:
                if after > MAX_RETRY_AFTER_S:
                    raise AiFailure(f"{reason}, retry after {after:.0f} s")
                wait = max(wait, after)
        if attempt < provider.attempts:
            await sleep(wait)
            pause *= 2
    raise AiFailure(f"{reason} after {provider.attempts} attempts")


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _read(response: httpx.Response, json_mode: bool, attempts: int) -> Answer:
    try:
        data = response.json()
        choice = data["choices"][0]["message"]["content"]
        usage = data.get("usage") or {}
        tokens = (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        model = str(data.get("model") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise AiFailure("not a chat-completions answer") from None
    if not isinstance(choice, str):
        raise AiFailure("the answer holds no text", tokens=tokens)
    content: Any = choice
    if json_mode:
        try:
            content = orjson.loads(choice)
        except orjson.JSONDecodeError:
            raise AiFailure("the answer is not valid JSON", tokens=tokens) from None
        if not isinstance(content, dict):
            raise AiFailure("the answer is not a JSON object", tokens=tokens)
    return Answer(content, choice, model, tokens[0], tokens[1], attempts)
