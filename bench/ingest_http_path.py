"""The ingest door's HTTP path alone: CPU and Python calls per request, no I/O at all.

    .venv/bin/python bench/ingest_http_path.py --requests 3000 --rounds 7
    .venv/bin/python bench/ingest_http_path.py --requests 1000 --calls   # and 3000: subtract

One-message ``POST /api/ingest`` requests go through the whole app that
:func:`web.app.create_app` builds (middleware, routing, the handler, the response) with
its services stubbed: the channel cache answers from memory, the rate limit is in-process
and the hub accepts without a database, a writer or Redis; the garbage collector is tuned
as ``inviaro serve`` tunes it (:func:`web.server.settle_heap`). So the figure is what the
framework and the handler cost, without uvicorn's part (parsing, socket writes). CPU time
(``time.process_time``) is less disturbed than wall time on a shared machine, but still
is; ``--calls`` counts Python function calls instead (cProfile), which does not vary: run
it for two request counts and divide the difference by the difference in requests.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import time
import uuid
from types import SimpleNamespace
from typing import Any

import orjson

from hub.ratelimit import MemoryLimiter
from hub.store import WriteResult
from web import config
from web.app import create_app
from web.channel_cache import ChannelCache
from web.crypto import sha256_hex
from web.server import settle_heap

WARM = 2000
PATH = "/api/ingest/chn_bench"


def stubbed_app(token: str) -> Any:
    settings = config.load(
        {
            "INVIARO_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789abcdef",
            "DATABASE_URL": "sqlite+aiosqlite:///:memory:",
            "INVIARO_LIMIT_CHANNEL_REQUESTS": "100000000/1s",
        }
    )
    app = create_app(settings)
    channel = SimpleNamespace(
        id="chn_bench", workspace_id="wsp_bench", kind="custom", ingest_token_hash=sha256_hex(token)
    )
    stored: Any = SimpleNamespace(id="msg_x", conversation_id="cnv_x", seq=1)
    accepted = WriteResult(stored, True, could_move_flow=False)  # the common case

    async def lookup(channel_id: str) -> Any:
        return channel

    async def accept(inbound: Any) -> WriteResult:
        return accepted

    app.state.services = SimpleNamespace(
        settings=settings,
        limiter=MemoryLimiter(),
        channels=ChannelCache(lookup),
        store=SimpleNamespace(writer=SimpleNamespace(admits=lambda n: True)),
        hub=SimpleNamespace(accept=accept),
    )
    return app


async def post(app: Any, token: str, n: int, statuses: dict[int, int]) -> None:
    message = {"external_id": f"m-{n}", "contact": {"external_id": f"c-{n}"}, "text": f"m {n}"}
    body = orjson.dumps({"messages": [message]})
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer " + token.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    await app(scope, receive, send)


async def run(requests: int, rounds: int, calls: bool) -> None:
    token = "ivi_" + uuid.uuid4().hex
    app = stubbed_app(token)
    settle_heap()  # as `inviaro serve` does before serving
    statuses: dict[int, int] = {}
    for n in range(WARM):
        await post(app, token, n, statuses)
    profile = cProfile.Profile() if calls else None
    figures = []
    for _ in range(rounds):
        started = time.process_time()
        if profile is not None:
            profile.enable()
        for n in range(requests):
            await post(app, token, n, statuses)
        if profile is not None:
            profile.disable()
        figures.append((time.process_time() - started) / requests * 1e6)
    print(f"statuses {statuses}")
    if profile is not None:
        print(f"python function calls: {pstats.Stats(profile).total_calls}")  # type: ignore[attr-defined]
    else:
        print(
            "µs/request (process time): "
            + " ".join(f"{f:.1f}" for f in figures)
            + f"; min {min(figures):.1f}, median {statistics.median(figures):.1f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=3000, help="requests per round")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", action="store_true", help="count Python calls (one round)")
    a = p.parse_args()
    asyncio.run(run(a.requests, 1 if a.calls else a.rounds, a.calls))


if __name__ == "__main__":
    main()
