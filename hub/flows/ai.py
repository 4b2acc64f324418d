"""The Studio's AI steps in the flow document and the interpreter (CONTRACT.md "AI").

``ai_classify``, ``ai_extract`` and ``ai_reply`` need the ``ai`` capability: a flow with
one cannot be published while AI is off for the workspace (422 naming the step). The
interpreter is pure, so an AI step asks for its call (:class:`hub.flows.engine.CallAi`)
and waits; the runner makes the call (``web/ai_steps.py``) and feeds the outcome back as
:class:`hub.flows.engine.AiDone`, which saves, says, notes and goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from hub.flows import document as d
from hub.flows import engine

FieldKind = Literal["text", "email", "phone", "number", "date"]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
FieldName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
LastMessages = Annotated[int, msgspec.Meta(ge=1, le=100)]


class AiClassify(d.Step, tag="ai_classify", rename={"else_": "else"}):
    """One of ``labels`` for the contact's last message; ``cases`` maps a label to its
    step, ``else`` takes everything else (no label, not sure, AI unavailable)."""

    labels: Annotated[list[Label], msgspec.Meta(min_length=1, max_length=50)]
    cases: dict[str, str]
    else_: str
    save_as: str | None = None
    last_messages: LastMessages = 3
    needs: ClassVar[str | None] = "ai"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.cases) - set(self.labels))
        if unknown:
            raise ValueError(f"'cases' names labels that are not in 'labels': {unknown}")

    def targets(self) -> Iterator[tuple[str, str]]:
        yield from super().targets()
        for label, target in self.cases.items():
            yield f"cases.{label}", target


class AiExtract(d.Step, tag="ai_extract"):
    """Fills ``vars.<name>`` for every field, validated like ``ask`` inputs; ``on_fail``
    when any is missing or invalid."""

    fields: Annotated[dict[FieldName, FieldKind], msgspec.Meta(min_length=1, max_length=20)]
    on_fail: str
    next: str | None = None
    last_messages: LastMessages = 10
    needs: ClassVar[str | None] = "ai"

    def targets(self) -> Iterator[tuple[str, str]]:
        yield from super().targets()
        yield "on_fail", self.on_fail


class Knowledge(msgspec.Struct, forbid_unknown_fields=True):
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    a: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class AiReply(d.Step, tag="ai_reply"):
    """Answers from ``knowledge`` (the step's own question/answer snippets) and, unless
    ``documents`` is false, the passages of the workspace's documents that match the
    question; ``on_unsure`` when nothing matches, the model is not confident or it names
    nothing it used."""

    on_unsure: str
    knowledge: Annotated[list[Knowledge], msgspec.Meta(max_length=200)] = msgspec.field(
        default_factory=list
    )
    documents: bool = True
    next: str | None = None
    last_messages: LastMessages = 5
    needs: ClassVar[str | None] = "ai"

    def __post_init__(self) -> None:
        if not self.knowledge and not self.documents:
            raise ValueError(
                "it has nothing to answer from: give 'knowledge' snippets or leave 'documents' on"
            )

    def targets(self) -> Iterator[tuple[str, str]]:
        yield from super().targets()
        yield "on_unsure", self.on_unsure


AiStep = AiClassify | AiExtract | AiReply

for _t in (AiClassify, AiExtract, AiReply):
    d.register(_t)


class _AiHandler:
    """Ask for the call and wait; the outcome comes back as ``AiDone``."""

    def enter(self, step: Any, run: engine.Run) -> engine.Next:
        run.actions.append(engine.CallAi(run.state.step, step, run.state.epoch))
        return engine.WAIT

    def resume(self, step: Any, run: engine.Run, event: engine.Event) -> engine.Next:
        if not isinstance(event, engine.AiDone):
            return engine.WAIT
        run.note(event.note)
        for target, value in event.saves:
            run.save(target, value)
        if event.say is not None and not run.say(event.say):
            return None  # outside the channel's window: handed off
        return event.next


for _t in (AiClassify, AiExtract, AiReply):
    engine.handles(_t)(_AiHandler)
