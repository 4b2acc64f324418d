"""The flow document: one schema (msgspec Structs) that parses, validates and documents it.

A flow is a trigger, a start step and named steps. Each step type is a Struct tagged on
``type`` and registered in :data:`STEP_TYPES`; a later step type (``book``, ``ai_*``)
registers itself the same way and the parser, the validator and the JSON Schema follow.

:func:`parse` and :func:`validate` never stop at the first mistake: a Studio shows every
problem at once, each on its step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal, Union

import msgspec

MAX_OPTIONS = 10  # the most any channel can show natively (a WhatsApp list has 10 rows)
MAX_STEPS = 200
MAX_TEXT = 4096
STEP_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
TARGET = re.compile(
    r"(contact\.(name|email|phone)|contact\.attributes\.[A-Za-z0-9_\-]{1,64}"
    r"|vars\.[A-Za-z0-9_\-]{1,64})"
)

TriggerOn = Literal["conversation_started", "message", "no_reply", "outside_hours"]
InputKind = Literal["text", "email", "phone", "number", "date"]
Op = Literal["equals", "contains", "matches", "exists"]


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a flow; ``step`` is None when it is the flow's own."""

    step: str | None
    detail: str


class Trigger(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    on: TriggerOn
    channels: list[str] | None = None
    keywords: list[str] | None = None
    after_minutes: int | None = None


class Step(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True):
    """A step. ``waits`` says the step may stop for the contact or a timer, which is what
    makes a loop through it harmless; ``needs`` names a capability the workspace must have."""

    waits: ClassVar[bool] = False
    needs: ClassVar[str | None] = None

    def targets(self) -> Iterator[tuple[str, str]]:
        """Every (field, step id) this step may go to next."""
        for name in ("next", "on_timeout", "on_invalid", "on_error", "open", "closed", "else_"):
            value = getattr(self, name, None)
            if isinstance(value, str):
                yield ("else" if name == "else_" else name), value


class Template(msgspec.Struct, forbid_unknown_fields=True):
    """A message template the channel's provider approved (a WhatsApp template): what a
    step sends instead of its text outside the 24-hour window. ``parameters`` are
    templated like texts (``{{contact.name}}``)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    language: Annotated[str, msgspec.Meta(min_length=2, max_length=15)]
    parameters: Annotated[list[str], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )


class Send(Step, tag="send"):
    """``template``: sent instead outside the 24-hour window (else the run hands off);
    ``on_error``: where the run goes when the channel refuses the message (else it fails)."""

    text: str
    next: str | None = None
    template: Template | None = None
    on_error: str | None = None


class Ask(Step, tag="ask"):
    text: str
    input: InputKind
    save_as: str
    next: str | None = None
    template: Template | None = None
    on_error: str | None = None
    retry_text: str | None = None
    retries: int = 2
    timeout_minutes: int | None = None
    on_timeout: str | None = None
    on_invalid: str | None = None
    waits: ClassVar[bool] = True


class Option(msgspec.Struct, forbid_unknown_fields=True):
    label: str
    next: str


class Choose(Step, tag="choose"):
    text: str
    options: list[Option]
    save_as: str | None = None
    retry_text: str | None = None
    retries: int = 2
    on_invalid: str | None = None
    template: Template | None = None
    on_error: str | None = None
    waits: ClassVar[bool] = True

    def targets(self) -> Iterator[tuple[str, str]]:
        yield from super().targets()
        for i, option in enumerate(self.options):
            yield f"options[{i}].next", option.next


class Condition(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    var: str
    op: Op
    value: str | None = None


class Case(msgspec.Struct, forbid_unknown_fields=True, rename={"if_": "if"}):
    if_: Condition
    next: str


class Branch(Step, tag="branch", rename={"else_": "else"}):
    cases: list[Case]
    else_: str

    def targets(self) -> Iterator[tuple[str, str]]:
        yield from super().targets()
        for i, case in enumerate(self.cases):
            yield f"cases[{i}].next", case.next


class Hours(Step, tag="hours"):
    open: str
    closed: str


class Set(Step, tag="set"):
    save_as: str
    value: str
    next: str | None = None


class Tag(Step, tag="tag"):
    add: list[str] = []
    remove: list[str] = []
    next: str | None = None


class Assign(Step, tag="assign"):
    team_id: str | None = None
    operator_id: str | None = None
    next: str | None = None


class Handoff(Step, tag="handoff"):
    team_id: str | None = None


class Http(Step, tag="http"):
    url: str
    on_error: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    body: dict[str, str] | None = None
    save: dict[str, str] | None = None
    next: str | None = None
    waits: ClassVar[bool] = True  # the call's answer comes back as an event


class Wait(Step, tag="wait"):
    minutes: int
    next: str | None = None
    waits: ClassVar[bool] = True


class Book(Step, tag="book"):
    """Offers the next free slots of a booking type and books the one picked; the runner
    looks the slots up and books (``web/booking.py``), feeding the answers back as events.
    ``action`` ``reschedule`` moves the contact's next booking of the type to the slot
    picked instead; ``cancel`` cancels it (the provider's event is deleted). No such
    booking goes to ``on_none``."""

    booking_type_id: str
    next: str
    on_none: str
    text: str | None = None
    action: Literal["book", "reschedule", "cancel"] = "book"
    waits: ClassVar[bool] = True

    def targets(self) -> Iterator[tuple[str, str]]:
        yield from super().targets()
        yield "on_none", self.on_none


class Resolve(Step, tag="resolve"):
    pass


class End(Step, tag="end"):
    pass


STEP_TYPES: dict[str, type[Step]] = {}


def register(step_type: type[Step]) -> type[Step]:
    """Add a step type (its ``tag`` is its ``type``); usable as a class decorator."""
    tag = step_type.__struct_config__.tag
    assert isinstance(tag, str), f"{step_type.__name__} has no tag"
    STEP_TYPES[tag] = step_type
    return step_type


for _t in (
    Send,
    Ask,
    Choose,
    Branch,
    Hours,
    Set,
    Tag,
    Assign,
    Handoff,
    Http,
    Wait,
    Book,
    Resolve,
    End,
):
    register(_t)


def step_union() -> Any:
    """The tagged union of every registered step type (for decoding and the schema)."""
    return Union[tuple(STEP_TYPES.values())]  # noqa: UP007 (built at run time)


class Document(msgspec.Struct, forbid_unknown_fields=True):
    """What a flow runs: ``steps`` maps step ids to steps; ``start`` is the first one."""

    trigger: Trigger
    start: str
    steps: dict[str, Step]


def parse(data: Any) -> tuple[Document | None, list[Problem]]:
    """A document from decoded JSON, and every problem found while reading it.

    Each step is read on its own, so one bad step does not hide the others' problems: the
    document holds the steps that could be read (None when the flow itself is unreadable);
    it is fit to run only when there are no problems."""
    if not isinstance(data, dict):
        return None, [Problem(None, "A flow must be a JSON object.")]
    problems: list[Problem] = []
    trigger: Trigger | None = None
    try:
        trigger = msgspec.convert(data.get("trigger"), Trigger)
    except msgspec.ValidationError as exc:
        problems.append(Problem(None, f"The trigger is invalid: {exc}."))
    start = data.get("start")
    if not isinstance(start, str) or not start:
        problems.append(Problem(None, "'start' must name a step."))
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, dict) or not raw_steps:
        problems.append(Problem(None, "'steps' must be an object of step id to step."))
        return None, problems
    if len(raw_steps) > MAX_STEPS:
        problems.append(Problem(None, f"A flow has at most {MAX_STEPS} steps."))
        return None, problems
    union = step_union()
    steps: dict[str, Step] = {}
    for step_id, raw in raw_steps.items():
        if not STEP_ID.fullmatch(step_id):
            problems.append(Problem(step_id, "A step id is 1 to 64 letters, digits, _ or -."))
            continue
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in STEP_TYPES:
            problems.append(Problem(step_id, f"Unknown step type {kind!r}."))
            continue
        try:
            steps[step_id] = msgspec.convert(raw, union)
        except msgspec.ValidationError as exc:
            problems.append(Problem(step_id, f"The {kind} step is invalid: {exc}."))
    if trigger is None or not isinstance(start, str):
        return None, problems
    return Document(trigger=trigger, start=start, steps=steps), problems


def validate(data: Any, *, available: frozenset[str] = frozenset()) -> list[Problem]:
    """Every problem of a flow document at once, each with its step.

    ``available`` names the capabilities the workspace has now (``ai``, ``booking``): a
    step that needs another one is a problem."""
    document, problems = parse(data)
    if document is None:
        return problems
    unread = set(data["steps"]) - set(document.steps)
    return problems + check(document, available=available, unread=unread)


def check(
    document: Document,
    *,
    available: frozenset[str] = frozenset(),
    unread: set[str] | None = None,
) -> list[Problem]:
    """The graph's problems: dangling transitions, unreachable steps, endless loops, and
    each step's own (texts, options, fields it saves to, capabilities).

    ``unread`` names steps that exist but could not be read (their problems are already
    said): going to them is no dangling transition, and what they lead to is unknown, so
    unreachable steps are not reported while there are any."""
    unread = unread or set()
    problems = _check_trigger(document.trigger)
    steps = document.steps
    if document.start not in steps and document.start not in unread:
        problems.append(Problem(None, f"The start step {document.start!r} does not exist."))
    for step_id, step in steps.items():
        for name, target in step.targets():
            if target not in steps and target not in unread:
                problems.append(
                    Problem(step_id, f"'{name}' goes to {target!r}, which does not exist.")
                )
        problems += [Problem(step_id, d) for d in _check_step(step)]
        if step.needs is not None and step.needs not in available:
            problems.append(Problem(step_id, f"This step needs {step.needs}, which is off."))
    if document.start in steps and not unread:
        reached = _reachable(steps, document.start)
        problems += [
            Problem(step_id, "No step leads here: it can never run.")
            for step_id in steps
            if step_id not in reached
        ]
    problems += [
        Problem(step_id, "This step is in a loop where nothing waits for the contact.")
        for step_id in _endless_loops(steps)
    ]
    return problems


def _check_trigger(trigger: Trigger) -> list[Problem]:
    problems: list[Problem] = []
    if trigger.on == "message" and not trigger.keywords:
        problems.append(Problem(None, "A 'message' trigger needs at least one keyword."))
    if trigger.on == "no_reply" and not (trigger.after_minutes and trigger.after_minutes > 0):
        problems.append(Problem(None, "A 'no_reply' trigger needs after_minutes above 0."))
    if trigger.keywords and any(not k.strip() or len(k) > 100 for k in trigger.keywords):
        problems.append(Problem(None, "A keyword is 1 to 100 characters."))
    return problems


def _check_step(step: Step) -> Iterator[str]:
    for name in ("text", "retry_text"):
        value = getattr(step, name, None)
        if isinstance(value, str) and not (0 < len(value.strip()) and len(value) <= MAX_TEXT):
            yield f"'{name}' must hold 1 to {MAX_TEXT} characters."
    for name in ("save_as",):
        value = getattr(step, name, None)
        if isinstance(value, str) and not TARGET.fullmatch(value):
            yield (
                f"'{name}' must name contact.name, contact.email, contact.phone, "
                "contact.attributes.<key> or vars.<key>."
            )
    if isinstance(step, Ask | Choose) and not 0 <= step.retries <= 10:
        yield "'retries' is 0 to 10."
    if isinstance(step, Ask):
        if step.timeout_minutes is not None and not 0 < step.timeout_minutes <= 60 * 24 * 30:
            yield "'timeout_minutes' is 1 to 43200 (30 days)."
    if isinstance(step, Choose):
        if not step.options:
            yield "A choose step offers at least one option."
        elif len(step.options) > MAX_OPTIONS:
            yield (
                f"A choose step offers at most {MAX_OPTIONS} options "
                "(the most a WhatsApp list shows)."
            )
        labels = [o.label.strip().casefold() for o in step.options]
        if any(not label or len(label) > 100 for label in labels):
            yield "An option's label is 1 to 100 characters."
        if len(set(labels)) != len(labels):
            yield "Two options have the same label."
    if isinstance(step, Branch):
        for i, case in enumerate(step.cases):
            cond = case.if_
            if not TARGET.fullmatch(cond.var):
                yield f"cases[{i}]: 'var' must name a contact field or vars.<key>."
            if cond.op != "exists" and cond.value is None:
                yield f"cases[{i}]: '{cond.op}' needs a value."
            if cond.op == "matches" and cond.value is not None:
                yield from (f"cases[{i}]: {d}" for d in _pattern_problems(cond.value))
    if isinstance(step, Wait) and not 0 < step.minutes <= 60 * 24 * 30:
        yield "'minutes' is 1 to 43200 (30 days)."
    if isinstance(step, Http):
        if not step.url.startswith("https://"):
            yield "The url must start with https://."
        for var, path in (step.save or {}).items():
            if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", var):
                yield f"save: {var!r} is not a variable name (letters, digits, _ or -)."
            if not path:
                yield f"save: {var!r} needs a path into the answer (json.a.b)."
    if isinstance(step, Book) and not 0 < len(step.booking_type_id) <= 40:
        yield "'booking_type_id' must name a booking type."
    if isinstance(step, Tag) and not (step.add or step.remove):
        yield "A tag step adds or removes at least one tag."
    if isinstance(step, Set) and len(step.value) > MAX_TEXT:
        yield f"'value' holds at most {MAX_TEXT} characters."


# A repeated group that itself repeats ("(a+)+", "(\\w*)*", "(x|y+){2,}") can take
# exponential time on a crafted message, and Python's re has no timeout: refused.
_NESTED_REPEAT = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")
MAX_PATTERN = 200


def _pattern_problems(pattern: str) -> Iterator[str]:
    if len(pattern) > MAX_PATTERN:
        yield f"the pattern is longer than {MAX_PATTERN} characters."
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        yield f"the pattern is not a regular expression ({exc})."
        return
    if _NESTED_REPEAT.search(pattern):
        yield "the pattern repeats a group that itself repeats, which can take forever."


def _reachable(steps: dict[str, Step], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for _, target in steps[todo.pop()].targets():
            if target in steps and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _endless_loops(steps: dict[str, Step]) -> list[str]:
    """Steps on a cycle made only of steps that never wait (Tarjan's components of the
    graph without waiting steps); such a cycle would spin without the contact."""
    graph = {
        sid: [t for _, t in step.targets() if t in steps and not steps[t].waits]
        for sid, step in steps.items()
        if not step.waits
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    looping: list[str] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                looping.extend(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return looping


def to_wire(document: Document) -> dict[str, Any]:
    """The document as plain JSON values (what is stored and answered)."""
    return msgspec.to_builtins(document)  # type: ignore[no-any-return]


def schema_components() -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON Schema of the document for OpenAPI: (the document's schema, its components),
    each component named ``Flow<Struct>`` so none meets another schema of the API."""
    steps = dict.__class_getitem__((str, step_union()))
    wire = msgspec.defstruct(
        "Document",
        [("trigger", Trigger), ("start", str), ("steps", steps)],
        forbid_unknown_fields=True,
    )
    (schema,), components = msgspec.json.schema_components(
        [wire], ref_template="#/components/schemas/Flow{name}"
    )
    components = {f"Flow{name}": value for name, value in components.items()}
    return schema, components
