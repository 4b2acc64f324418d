"""The AI steps' own latency beside the provider's, against a fake provider on loopback.

    .venv/bin/python bench/ai_overhead.py [--calls 200] [--delay-ms 0] [--database URL]

Starts a fake OpenAI-compatible server (uvicorn, loopback) that answers every
chat-completions request after ``--delay-ms``, and the hub's services on a fresh SQLite
file (or ``--database``). Runs ``ai_classify``, ``ai_extract`` and ``ai_reply`` (with its
snippets only, and with 20 documents of about 5,000 characters to rank) one after
another ``--calls`` times each and prints, per step, p50 and p95 of: the whole step, the
provider round trip as the hub saw it (the call log's latency: HTTP on loopback plus the
fake's delay) and the difference, which is the hub's overhead (the gate and budget reads,
the last messages read, redaction, prompt building, answer checks, the call log write).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.ids import new_id
from storage import models as m
from web import ai_steps
from web.config import Settings
from web.services import Services

ANSWERS = {
    "sort": {"label": "refund", "confidence": 0.9},
    "read": {"order": "A-1002", "email": "[email_1]"},
    "answer": {"answer": "We are open 9 to 17.", "sources": [1], "confident": True},
}
DOCUMENTS = 20
TEXTS = [
    "Hello, I ordered last week",
    "My order is A-1002, write to jane@example.com",
    "or call +387 61 123 456",
    "I want my money back",
    "When are you open?",
]


def fake_provider(delay_s: float) -> Starlette:
    async def complete(request: Request) -> Response:
        body = orjson.loads(await request.body())
        system = body["messages"][0]["content"]
        key = "sort" if "labels" in system else "read" if "fields" in system else "answer"
        if delay_s:
            await asyncio.sleep(delay_s)
        answer = {
            "choices": [
                {"message": {"role": "assistant", "content": orjson.dumps(ANSWERS[key]).decode()}}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20},
            "model": body["model"],
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])


async def seed(services: Services) -> tuple[str, str]:
    async with services.db() as db:
        workspace = m.Workspace(name="Bench", allowed_origins=[], ai_enabled=True)
        db.add(workspace)
        await db.flush()
        channel = m.Channel(workspace_id=workspace.id, kind="custom", name="Bench", config={})
        contact = m.Contact(workspace_id=workspace.id, name="Jane", attributes={})
        db.add_all([channel, contact])
        await db.flush()
        conv = m.Conversation(
            workspace_id=workspace.id, channel_id=channel.id, contact_id=contact.id, tags=[]
        )
        db.add(conv)
        await db.flush()
        for seq, text in enumerate(TEXTS, 1):
            db.add(
                m.Message(
                    id=new_id("msg_"),
                    workspace_id=workspace.id,
                    conversation_id=conv.id,
                    channel_id=channel.id,
                    seq=seq,
                    direction="in",
                    author_kind="contact",
                    text=text,
                    attachments=[],
                    status="received",
                )
            )
        conv.last_seq = len(TEXTS)
        # Documents for ai_reply to rank: 20 of about 5,000 characters, one that answers.
        filler = "Our shop sells bread, cakes and coffee from local farms. " * 10
        for i in range(DOCUMENTS):
            text = "\n\n".join(f"Section {j}. {filler}" for j in range(8))
            if i == 7:
                text += "\n\nWe are open 9 to 17, Monday to Friday."
            db.add(m.AiDocument(workspace_id=workspace.id, title=f"Handbook {i}", text=text))
        await db.commit()
        return workspace.id, conv.id


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def main(calls: int, delay_ms: float, database: str | None) -> None:
    port = 18000 + int(time.time()) % 1000
    server = uvicorn.Server(
        uvicorn.Config(
            fake_provider(delay_ms / 1000), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    served = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    folder = tempfile.mkdtemp(prefix="inviaro-ai-bench-")
    settings = Settings(
        database_url=database or f"sqlite+aiosqlite:///{folder}/bench.db",
        redis_url=None,
        secret_key="bench-secret-key-that-is-long-enough-0123456789",
        public_url="http://127.0.0.1:1",
        ai_base_url=f"http://127.0.0.1:{port}/v1",
        ai_api_key="bench",
        ai_model="bench-model",
    )
    services = await Services.start(settings)
    try:
        workspace_id, conversation_id = await seed(services)
        steps: dict[str, tuple[Any, Any]] = {
            "ai_classify": (
                ai_steps.classify,
                ai_steps.AiClassify(labels=["order", "refund"], cases={"refund": "r"}, else_="h"),
            ),
            "ai_extract": (
                ai_steps.extract,
                ai_steps.AiExtract(
                    fields={"order": "text", "email": "email"}, next="n", on_fail="f"
                ),
            ),
            "ai_reply": (
                ai_steps.reply,
                ai_steps.AiReply(
                    knowledge=[ai_steps.Knowledge(q="Hours?", a="9 to 17")],
                    documents=False,
                    next="n",
                    on_unsure="u",
                ),
            ),
            # The workspace's documents ranked (BM25 over every passage) before each call.
            "ai_reply+doc": (
                ai_steps.reply,
                ai_steps.AiReply(next="n", on_unsure="u"),
            ),
        }
        backend = settings.database_url.split(":")[0]
        print(f"{calls} calls per step, provider delay {delay_ms:g} ms, {backend}")
        head = ("step", "step p50", "p95", "provider p50", "p95", "overhead p50", "p95")
        print(f"{head[0]:12}" + "".join(f" {h:>13}" for h in head[1:]) + "  (ms)")
        for name, (run, step) in steps.items():
            place = ai_steps.Place(workspace_id, conversation_id, name)
            await run(services, place, step)  # warm up
            totals, provider = [], []
            for _ in range(calls):
                started = time.perf_counter()
                outcome = await run(services, place, step)
                totals.append((time.perf_counter() - started) * 1000)
                assert outcome.call_id is not None, outcome.note
                async with services.db() as db:
                    call = await db.get(m.AiCall, outcome.call_id)
                    assert call is not None and call.outcome == "ok", call and call.detail
                    provider.append(float(call.latency_ms))
            overhead = [t - p for t, p in zip(totals, provider, strict=True)]
            print(
                f"{name:12} {statistics.median(totals):13.1f} {pct(totals, 0.95):13.1f}"
                f" {statistics.median(provider):13.1f} {pct(provider, 0.95):13.1f}"
                f" {statistics.median(overhead):13.1f} {pct(overhead, 0.95):13.1f}"
            )
    finally:
        await services.close()
        server.should_exit = True
        await served


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.delay_ms, args.database))
