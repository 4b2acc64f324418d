"""Operator assist and the AI call log of a conversation.

``POST /api/conversations/{id}/ai/summary`` and ``.../ai/suggest-reply`` answer text for
the operator only: a suggestion is never sent, the operator edits it and sends it as
their own message. ``GET /api/conversations/{id}/ai-calls`` shows every call made or
refused for the conversation: what was sent (redacted), what came back, tokens, time.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub import ai as prompts
from storage import ai_calls
from storage import models as m
from web import ai
from web.api.account import services
from web.auth.context import require
from web.contracts import ai as ai_contract
from web.errors import ApiError
from web.operation import declare


async def conversation_of(db: Any, principal: Any, conversation_id: str) -> m.Conversation:
    conv = await db.get(m.Conversation, conversation_id)
    if conv is None or conv.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", "There is no such conversation.")
    return conv  # type: ignore[no-any-return]


async def _assist(request: Request, feature: str, build: ai.Build, key: str) -> dict[str, Any]:
    principal = await require(request)
    conversation_id = request.path_params["id"]
    svc = services(request)
    async with svc.db() as db:
        await conversation_of(db, principal, conversation_id)
    try:
        done = await ai.call(
            svc,
            workspace_id=principal.workspace_id,
            conversation_id=conversation_id,
            feature=feature,
            build=build,
            read=lambda answer, found: prompts.read_text(answer, key, found),
        )
    except ai.AiRefused as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None
    except ai.AiFailed as exc:
        raise ApiError(
            502, "ai_failed", f"The AI provider gave no usable answer ({exc.reason})."
        ) from None
    return {key: done.value, "call_id": done.call_id}


@declare(ai_contract.AI_SUMMARY)
async def summary(request: Request) -> Response:
    await ai_contract.AI_SUMMARY.parse(request, ai_contract.SummaryBody)
    body = await _assist(
        request, "summary", lambda turns, _redactor: prompts.summary_prompt(turns), "summary"
    )
    return JSONResponse(body)


@declare(ai_contract.AI_SUGGEST_REPLY)
async def suggest_reply(request: Request) -> Response:
    asked = await ai_contract.AI_SUGGEST_REPLY.parse(request, ai_contract.SuggestReplyBody)
    hint = asked.hint

    def build(turns: list[prompts.Turn], redactor: prompts.Redactor) -> list[dict[str, str]]:
        return prompts.suggest_prompt(turns, redactor(hint) if hint else None)

    body = await _assist(request, "suggest_reply", build, "reply")
    return JSONResponse({"text": body["reply"], "call_id": body["call_id"]})


@declare(ai_contract.LIST_AI_CALLS)
async def list_calls(request: Request) -> Response:
    principal = await require(request)
    async with services(request).db() as db:
        conv = await conversation_of(db, principal, request.path_params["id"])
        calls = await ai_calls.for_conversation(db, conv.id)
    return JSONResponse({"items": [ai_calls.call_json(c) for c in calls], "next_cursor": None})


routes = [
    Route("/api/conversations/{id}/ai/summary", summary, methods=["POST"]),
    Route("/api/conversations/{id}/ai/suggest-reply", suggest_reply, methods=["POST"]),
    Route("/api/conversations/{id}/ai-calls", list_calls, methods=["GET"]),
]
