"""A fake OpenAI-compatible provider: a real HTTP server on loopback speaking the
chat-completions format, which records every request it gets.

A test scripts its answers: :meth:`FakeAi.answer_with` queues replies (a status, a
content string or object, headers), used in order; when none is queued, ``default``
answers (by default a 500). Every request, whatever its path, is counted in
``requests`` (decoded JSON bodies) and ``paths``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests import loopback
from tests.conftest import free_port


@dataclass(frozen=True)
class Reply:
    status: int = 200
    content: Any = None  # a str is sent as is, anything else as JSON text
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a body that is not a chat completion at all
    prompt_tokens: int = 40
    completion_tokens: int = 10


def ok(content: Any, prompt_tokens: int = 40, completion_tokens: int = 10) -> Reply:
    return Reply(200, content, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


@dataclass
class FakeAi:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    queued: list[Reply] = field(default_factory=list)
    default: Callable[[dict[str, Any]], Reply] = lambda _body: Reply(500, "down")

    def answer_with(self, *replies: Reply) -> None:
        self.queued.extend(replies)

    def reset(self) -> None:
        self.requests.clear()
        self.paths.clear()
        self.headers.clear()
        self.queued.clear()
        self.default = lambda _body: Reply(500, "down")

    def sent_text(self) -> str:
        """Everything every request carried, as one string (to look for leaks)."""
        return "\n".join(orjson.dumps(r).decode() for r in self.requests)

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        body = orjson.loads(raw) if raw else {}
        self.requests.append(body)
        self.paths.append(request.url.path)
        self.headers.append(dict(request.headers))
        reply = self.queued.pop(0) if self.queued else self.default(body)
        if reply.raw is not None:
            return Response(reply.raw, reply.status, reply.headers, "application/json")
        if reply.status != 200:
            error = {"error": {"message": str(reply.content), "type": "server_error"}}
            return Response(orjson.dumps(error), reply.status, reply.headers, "application/json")
        content = reply.content if isinstance(reply.content, str) else orjson.dumps(reply.content)
        completion = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content if isinstance(content, str) else content.decode(),
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }
        return Response(orjson.dumps(completion), 200, reply.headers, "application/json")


@asynccontextmanager
async def running_fake_ai() -> AsyncIterator[FakeAi]:
    fake = FakeAi()
    app = Starlette(routes=[Route("/{path:path}", fake._handle, methods=["GET", "POST"])])
    port = free_port()
    async with loopback.serving(app, port):
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
