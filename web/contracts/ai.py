"""The ai routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from web.operation import FORBIDDEN, NOT_FOUND, UNAUTHORIZED, WRITE, Answer, Fault, Operation, Param


class SummaryBody(msgspec.Struct, forbid_unknown_fields=True):
    """No fields yet; an empty body or ``{}``."""


class SuggestReplyBody(msgspec.Struct, forbid_unknown_fields=True):
    """``hint``: the operator's instruction for the draft ("apologise, offer a refund")."""

    hint: (
        Annotated[
            str, Meta(max_length=500, description="The operator's instruction for the draft.")
        ]
        | None
    ) = None


class AiSummaryReply(msgspec.Struct):
    summary: str
    call_id: str


class AiSuggestReplyReply(msgspec.Struct):
    text: str
    call_id: str


class AiCallSentItem(msgspec.Struct):
    role: str
    content: str


class AiCall(msgspec.Struct):
    """One AI call, or one refused before anything was sent. `sent` is exactly the chat messages the provider received (redacted)."""

    id: str
    conversation_id: str
    feature: Annotated[
        str, Meta(description="summary, suggest_reply, ai_classify, ai_extract or ai_reply")
    ]
    step: Annotated[str | None, Meta(description="The flow step id, for a step.")]
    at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    outcome: Annotated[
        str,
        Meta(
            description="ok, failed, invalid (an unusable answer), contact_restricted or ai_budget_spent (nothing sent)"
        ),
    ]
    detail: str | None
    sent: list[AiCallSentItem]
    answer: str | None


class ListAiCallsReply(msgspec.Struct):
    items: list[AiCall]
    next_cursor: str | None


# POST /api/conversations/{id}/ai/summary
AI_SUMMARY = Operation(
    method="post",
    operation_id="aiSummary",
    summary="Summarise the conversation with AI (operators)",
    tags=("ai",),
    security=WRITE,
    body=SummaryBody,
    body_required=False,
    body_max_bytes=4096,
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={
        200: Answer("For the operator only; nothing is sent to the contact.", body=AiSummaryReply)
    },
    faults=(
        Fault(
            409,
            "contact_restricted",
            "This contact restricted the processing of their data; nothing goes to AI.",
        ),
        Fault(
            422,
            "ai_off",
            "AI is off for this workspace (`ai_off`) or the server has no provider (`ai_unavailable`); invalid fields (`invalid`).",
        ),
        Fault(429, "ai_budget_spent", "This workspace spent its monthly AI token budget."),
        Fault(
            502,
            "ai_failed",
            "The AI provider gave no usable answer (an error, a timeout or invalid JSON).",
        ),
        Fault(400, "bad_json", "The body is not a JSON object."),
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# POST /api/conversations/{id}/ai/suggest-reply
AI_SUGGEST_REPLY = Operation(
    method="post",
    operation_id="aiSuggestReply",
    summary="Suggest a reply with AI for the operator to edit (never sent by itself)",
    tags=("ai",),
    security=WRITE,
    body=SuggestReplyBody,
    body_required=False,
    body_max_bytes=4096,
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={
        200: Answer(
            "For the operator only; nothing is sent to the contact.", body=AiSuggestReplyReply
        )
    },
    faults=(
        Fault(
            409,
            "contact_restricted",
            "This contact restricted the processing of their data; nothing goes to AI.",
        ),
        Fault(
            422,
            "ai_off",
            "AI is off for this workspace (`ai_off`) or the server has no provider (`ai_unavailable`); invalid fields (`invalid`).",
        ),
        Fault(429, "ai_budget_spent", "This workspace spent its monthly AI token budget."),
        Fault(
            502,
            "ai_failed",
            "The AI provider gave no usable answer (an error, a timeout or invalid JSON).",
        ),
        Fault(400, "bad_json", "The body is not a JSON object."),
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# GET /api/conversations/{id}/ai-calls
LIST_AI_CALLS = Operation(
    method="get",
    operation_id="listAiCalls",
    summary="Every AI call made or refused for the conversation, oldest first",
    tags=("ai",),
    security=WRITE,
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={200: Answer("The AI call log.", body=ListAiCallsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)
