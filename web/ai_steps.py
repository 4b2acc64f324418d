"""The Studio's AI steps, ``ai_classify``, ``ai_extract`` and ``ai_reply`` (CONTRACT.md "AI"):
each takes where the run is and its step, asks the provider through :func:`web.ai.call`
and returns a :class:`StepOutcome` that the flow runner carries out.

A step never breaks its run: AI off, a restricted contact, a spent budget, a provider
error or timeout, an answer that is not what was asked, a model that is not confident or
not grounded in the knowledge, all take the step's fallback (``else``, ``on_fail``,
``on_unsure``) with a note the operators see in the run's history, and every call (or
refusal) is in the conversation's AI call log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from hub import ai as prompts
from hub import knowledge
from hub.flows.ai import AiClassify, AiExtract, AiReply, AiStep, Knowledge
from storage import ai_calls, ai_documents
from web import ai

if TYPE_CHECKING:
    from web.services import Services

__all__ = ["AiClassify", "AiExtract", "AiReply", "Knowledge", "Place", "StepOutcome", "run"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Place:
    """Where the run is: its workspace, conversation and the step's id."""

    workspace_id: str
    conversation_id: str
    step: str


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """Where the run goes (None: it is done), the note for its history, what to save
    (``vars.<name>`` or a contact field, as ``save_as`` names them), what to say to the
    contact, and the AI call it came from (None when nothing was sent)."""

    next: str | None
    note: str
    saves: dict[str, str] = field(default_factory=dict)
    say: str | None = None
    call_id: str | None = None


async def run(services: Services, place: Place, step: AiStep) -> StepOutcome:
    """The step's outcome, whichever AI step it is."""
    if isinstance(step, AiClassify):
        return await classify(services, place, step)
    if isinstance(step, AiExtract):
        return await extract(services, place, step)
    return await reply(services, place, step)


async def classify(services: Services, place: Place, step: AiClassify) -> StepOutcome:
    """One of ``labels`` for the contact's last message; its case, else ``else``."""
    try:
        done = await _ask(
            services,
            place,
            "ai_classify",
            step.last_messages,
            lambda turns, _r: prompts.classify_prompt(step.labels, turns),
            lambda answer, _found: prompts.read_classification(answer, step.labels),
        )
    except _Fallback as fallback:
        return StepOutcome(step.else_, fallback.note, call_id=fallback.call_id)
    label, confidence = done.value
    if confidence < prompts.MIN_CONFIDENCE:
        note = f"AI was not sure ({label!r}, {confidence:.2f}): else"
        return StepOutcome(step.else_, note, call_id=done.call_id)
    saves = {step.save_as: label} if step.save_as else {}
    target = step.cases.get(label, step.else_)
    note = f"AI classified the message as {label!r} ({confidence:.2f})"
    return StepOutcome(target, note, saves, call_id=done.call_id)


async def extract(services: Services, place: Place, step: AiExtract) -> StepOutcome:
    """Every field from the conversation, validated like ``ask`` inputs, into ``vars``."""
    try:
        done = await _ask(
            services,
            place,
            "ai_extract",
            step.last_messages,
            lambda turns, _r: prompts.extract_prompt(step.fields, turns),
            lambda answer, found: prompts.read_extraction(answer, step.fields, found),
        )
    except _Fallback as fallback:
        return StepOutcome(step.on_fail, fallback.note, call_id=fallback.call_id)
    saves = {f"vars.{name}": value for name, value in done.value.items()}
    note = "AI filled " + ", ".join(sorted(done.value))
    return StepOutcome(step.next, note, saves, call_id=done.call_id)


async def reply(services: Services, place: Place, step: AiReply) -> StepOutcome:
    """An answer from the knowledge only: the step's snippets and the passages of the
    workspace's documents that match the contact's question. Hands over to ``on_unsure``
    without asking the provider when nothing matches, and when the model is not confident
    or names no fact it used."""
    knowledge = [prompts.Snippet(k.q, k.a) for k in step.knowledge]
    if step.documents:
        knowledge += await _passages(services, place, step.last_messages)
    if not knowledge:
        note = "Nothing in the knowledge matches the question: handed over"
        return StepOutcome(step.on_unsure, note)
    try:
        done = await _ask(
            services,
            place,
            "ai_reply",
            step.last_messages,
            lambda turns, _r: prompts.reply_prompt(knowledge, turns),
            lambda answer, _found: prompts.read_reply(answer, knowledge),
        )
    except _Fallback as fallback:
        note = fallback.note
        if fallback.unusable:
            note = "AI was not confident, or not grounded in the knowledge: handed over"
        return StepOutcome(step.on_unsure, note, call_id=fallback.call_id)
    return StepOutcome(step.next, "AI answered", say=done.value, call_id=done.call_id)


async def _passages(services: Services, place: Place, last_messages: int) -> list[prompts.Snippet]:
    """The document passages that best match the contact's last message (or, when it
    matches none, their last few messages together), ranked here: the documents never
    leave the server whole, only these passages do."""
    async with services.db() as db:
        documents = await ai_documents.knowledge(db, place.workspace_id)
        if not documents:
            return []
        turns = await ai_calls.recent_turns(db, place.conversation_id, last_messages)
    asked = [text for kind, text in turns if kind == "contact"]
    found = knowledge.rank(asked[-1], documents) if asked else []
    if not found and len(asked) > 1:
        found = knowledge.rank(" ".join(asked), documents)
    return [prompts.Snippet("", p.text, document=p.title) for p in found]


class _Fallback(Exception):
    def __init__(self, note: str, call_id: str | None, unusable: bool = False) -> None:
        super().__init__(note)
        self.note = note
        self.call_id = call_id
        self.unusable = unusable  # the provider answered, but not what was asked


async def _ask(
    services: Services,
    place: Place,
    feature: str,
    last_messages: int,
    build: ai.Build,
    read: ai.Read[T],
) -> ai.Done[T]:
    try:
        return await ai.call(
            services,
            workspace_id=place.workspace_id,
            conversation_id=place.conversation_id,
            feature=feature,
            step=place.step,
            build=build,
            read=read,
            last_messages=last_messages,
        )
    except ai.AiRefused as exc:
        raise _Fallback(f"AI not used: {exc.detail}", None) from None
    except ai.AiFailed as exc:
        unusable = exc.reason == ai.UNUSABLE
        raise _Fallback(f"AI gave no usable answer ({exc.reason})", exc.call_id, unusable) from None
