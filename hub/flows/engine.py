"""The flow interpreter: a run's state and one event in, the new state and actions out.

Pure: no clock, no database, no network. The runner (web/) feeds it events (the run
started, the contact answered, a timer fired, an HTTP call or a slot lookup or booking
came back), carries out the actions it returns (send a message, save a field, tag,
assign, hand off, call, start a timer, look up free slots, book one) and stores the new
state, all in the transaction that consumed the event.

Each step type has a handler in :data:`HANDLERS`: ``enter`` runs when the run reaches the
step; ``resume`` when an event arrives while the run waits in it. ``book`` is one such
handler; a later step type (``ai_*``) registers its handler the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import msgspec

from hub.flows import document as d
from hub.flows.hours import BusinessHours
from hub.flows.inputs import read
from hub.flows.template import lookup, render

MAX_STEPS_WITHOUT_WAITING = 100
RunStatus = Literal["running", "waiting", "done", "handed_off", "failed"]
FINISHED: frozenset[str] = frozenset({"done", "handed_off", "failed"})


class Offered(msgspec.Struct, omit_defaults=True):
    """A ``book`` step's offer: the slots shown, as (start in RFC 3339, label) pairs, the
    one picked (being booked), and whether these are the fresh slots after one was taken."""

    slots: list[tuple[str, str]] = []
    picked: int | None = None
    again: bool = False


class RunState(msgspec.Struct, omit_defaults=True):
    """What a run remembers between events (stored as JSON with the run).

    ``epoch`` counts step entries: a timer or HTTP answer carries the epoch it was started
    in, so one that arrives after the run moved on is ignored."""

    step: str
    status: RunStatus = "running"
    vars: dict[str, Any] = {}
    retries: int = 0
    epoch: int = 0
    message_text: str = ""
    error: str | None = None
    offered: Offered | None = None


# Events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """The contact wrote; ``option`` is the value of a tapped option, if any."""

    text: str
    option: str | None = None


@dataclass(frozen=True, slots=True)
class TimerFired:
    epoch: int


@dataclass(frozen=True, slots=True)
class HttpDone:
    epoch: int
    ok: bool
    answer: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AiDone:
    """An AI step's outcome (hub/flows/ai.py): where to go, what to save as
    ``(target, value)`` pairs, what to say to the contact, the note for the history."""

    epoch: int
    next: str | None
    saves: tuple[tuple[str, str], ...] = ()
    say: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class SlotsFound:
    """The free slots a ``book`` step asked for, as (start, label) pairs; ``error`` says
    why none could be read."""

    epoch: int
    slots: tuple[tuple[str, str], ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Booked:
    """A ``book`` step's booking came back: made, the slot ``taken`` meanwhile, or failed."""

    epoch: int
    ok: bool
    taken: bool = False
    error: str | None = None
    label: str | None = None  # a cancelled booking's time, in the contact's zone


@dataclass(frozen=True, slots=True)
class SendRefused:
    """The channel refused (or the provider gave up on) a message the step ``step`` said:
    a waiting run follows that step's ``on_error``, else it fails with ``reason``."""

    step: str
    reason: str


Event = Reply | TimerFired | HttpDone | AiDone | SlotsFound | Booked | SendRefused


# Actions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    """A bot message to the contact; ``options`` are (label, value) pairs to tap;
    ``template`` (name, language, parameters) is sent instead of the text (outside the
    24-hour window); ``step`` is the step that said it."""

    text: str
    options: tuple[tuple[str, str], ...] = ()
    template: tuple[str, str, tuple[str, ...]] | None = None
    step: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class SaveContact:
    """Set ``name``, ``email``, ``phone`` or ``attributes.<key>`` of the contact."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class SetTags:
    add: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AssignTo:
    team_id: str | None
    operator_id: str | None


@dataclass(frozen=True, slots=True)
class HandOff:
    team_id: str | None


@dataclass(frozen=True, slots=True)
class ResolveConversation:
    pass


@dataclass(frozen=True, slots=True)
class CallHttp:
    method: str
    url: str
    body: dict[str, str] | None
    epoch: int


@dataclass(frozen=True, slots=True)
class StartTimer:
    minutes: int
    epoch: int


@dataclass(frozen=True, slots=True)
class CallAi:
    """Make an AI step's call (the runner does, outside the interpreter) for ``step``, the
    step ``step_id`` of the document; its outcome comes back as :class:`AiDone`."""

    step_id: str
    step: Any
    epoch: int


@dataclass(frozen=True, slots=True)
class FindSlots:
    """Look up the next free slots, labelled in ``time_zone`` (None: the booking type's);
    ``again`` after a picked slot was taken."""

    booking_type_id: str
    time_zone: str | None
    epoch: int
    again: bool = False
    action: str = "book"  # reschedule: for the contact's next booking of the type


@dataclass(frozen=True, slots=True)
class BookSlot:
    """Book ``start``; or, with ``action`` ``reschedule``, move the contact's next booking
    of the type there."""

    booking_type_id: str
    start: str
    epoch: int
    again: bool = False
    action: str = "book"


@dataclass(frozen=True, slots=True)
class CancelBooking:
    """Cancel the contact's next booking of the type; it comes back as ``Booked``."""

    booking_type_id: str
    time_zone: str | None
    epoch: int


Action = (
    Say
    | SaveContact
    | SetTags
    | AssignTo
    | HandOff
    | ResolveConversation
    | CallHttp
    | StartTimer
    | CallAi
    | FindSlots
    | BookSlot
    | CancelBooking
)


@dataclass(frozen=True, slots=True)
class StepLog:
    """What the bot did at a step, in a few words (the thread's system line, the run's
    history)."""

    step: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Context:
    """What the run may read: the contact (``name``, ``email``, ``phone``, ``attributes``),
    the time, the workspace's hours (None: always open) and whether a free-form message
    may be sent now (False outside a Meta channel's 24-hour window)."""

    contact: dict[str, Any]
    now: datetime
    hours: BusinessHours | None = None
    may_send: bool = True


@dataclass(frozen=True, slots=True)
class Outcome:
    state: RunState
    actions: list[Action]
    log: list[StepLog]


# The machinery ------------------------------------------------------------------------

WAIT = object()  # a handler's answer: the run stops here until an event
Next = str | None | object  # a step id, None (the run is done) or WAIT


@dataclass
class Run:
    """One advance in progress: handlers read and change it."""

    state: RunState
    ctx: Context
    contact: dict[str, Any]
    actions: list[Action] = field(default_factory=list)
    log: list[StepLog] = field(default_factory=list)

    @property
    def scope(self) -> dict[str, Any]:
        return {
            "contact": self.contact,
            "vars": self.state.vars,
            "message": {"text": self.state.message_text},
        }

    def render(self, text: str) -> str:
        return render(text, self.scope)

    def note(self, outcome: str) -> None:
        self.log.append(StepLog(self.state.step, outcome))

    def say(
        self,
        text: str,
        options: tuple[tuple[str, str], ...] = (),
        template: d.Template | None = None,
    ) -> bool:
        """Send; when the channel accepts no free-form message now, send the step's
        ``template`` if it names one, else hand off (False)."""
        if not self.ctx.may_send:
            if template is not None:
                parameters = tuple(self.render(p) for p in template.parameters)
                sent = (template.name, template.language, parameters)
                self.actions.append(Say(self.render(text), (), sent, self.state.step))
                self.note(f"outside the 24-hour window: sent the template {template.name!r}")
                return True
            self.note("outside the 24-hour window: handed off")
            self.actions.append(HandOff(None))
            self.state.status = "handed_off"
            return False
        self.actions.append(Say(self.render(text), options, step=self.state.step))
        return True

    def save(self, target: str, value: str) -> None:
        if target.startswith("vars."):
            self.state.vars[target[5:]] = value
        else:
            name = target.removeprefix("contact.")
            if name.startswith("attributes."):
                self.contact.setdefault("attributes", {})[name[11:]] = value
            else:
                self.contact[name] = value
            self.actions.append(SaveContact(name, value))
        self.note(f"saved {target}")

    def fail(self, reason: str) -> None:
        self.state.status = "failed"
        self.state.error = reason
        self.note(f"failed: {reason}")


class Handler(Protocol):
    def enter(self, step: Any, run: Run) -> Next:
        """The run reached ``step``: act, then say where to go (or WAIT)."""

    def resume(self, step: Any, run: Run, event: Event) -> Next:
        """An event while waiting in ``step``: where to go, or WAIT to keep waiting."""


HANDLERS: dict[type[d.Step], Handler] = {}


def handles(step_type: type[d.Step]) -> Callable[[type], type]:
    def register(cls: type) -> type:
        HANDLERS[step_type] = cls()
        return cls

    return register


class _NoWait:
    def resume(self, step: Any, run: Run, event: Event) -> Next:
        return WAIT


def start(document: d.Document, ctx: Context, message_text: str = "") -> Outcome:
    """A new run at the document's start step."""
    state = RunState(step=document.start, message_text=message_text)
    run = Run(state, ctx, _copy_contact(ctx.contact))
    _go(document, run, document.start)
    return Outcome(run.state, run.actions, run.log)


def advance(document: d.Document, state: RunState, event: Event, ctx: Context) -> Outcome:
    """Feed one event to a waiting run. A finished run, or an event its step does not
    wait for (a late timer, a message during an HTTP call), changes nothing."""
    state = msgspec.structs.replace(state, vars=dict(state.vars))
    run = Run(state, ctx, _copy_contact(ctx.contact))
    if state.status != "waiting" or state.step not in document.steps:
        return Outcome(state, [], [])
    if isinstance(event, SendRefused):
        _refused(document, run, event)
        return Outcome(run.state, run.actions, run.log)
    if (
        isinstance(event, TimerFired | HttpDone | AiDone | SlotsFound | Booked)
        and event.epoch != state.epoch
    ):
        return Outcome(state, [], [])
    if isinstance(event, Reply):
        state.message_text = event.text
    step = document.steps[state.step]
    after = HANDLERS[type(step)].resume(step, run, event)
    if after is WAIT:
        return Outcome(run.state, run.actions, run.log)
    _go(document, run, after)
    return Outcome(run.state, run.actions, run.log)


def _refused(document: d.Document, run: Run, event: SendRefused) -> None:
    """A message the run said was refused: the saying step's ``on_error``, else failed."""
    step = document.steps.get(event.step)
    on_error = getattr(step, "on_error", None) if step is not None else None
    if on_error is None:
        run.fail(f"the channel refused a message of {event.step!r}: {event.reason}")
        return
    run.state.step = event.step
    run.note(f"the channel refused the message: {event.reason}")
    _go(document, run, on_error)


def _go(document: d.Document, run: Run, target: Next) -> None:
    """Enter steps from ``target`` until one waits or the run ends."""
    state = run.state
    for _ in range(MAX_STEPS_WITHOUT_WAITING):
        if state.status in FINISHED:
            return
        if target is None:
            state.status = "done"
            return
        assert isinstance(target, str)
        step = document.steps.get(target)
        if step is None:
            run.fail(f"the step {target!r} does not exist")
            return
        state.step = target
        state.epoch += 1
        state.retries = 0
        state.offered = None
        state.status = "running"
        target = HANDLERS[type(step)].enter(step, run)
        if target is WAIT:
            if state.status not in FINISHED:
                state.status = "waiting"
            return
    run.fail(f"more than {MAX_STEPS_WITHOUT_WAITING} steps without waiting for the contact")


def _copy_contact(contact: dict[str, Any]) -> dict[str, Any]:
    copy = dict(contact)
    copy["attributes"] = dict(contact.get("attributes") or {})
    return copy


# The step types -----------------------------------------------------------------------


@handles(d.Send)
class _Send(_NoWait):
    def enter(self, step: d.Send, run: Run) -> Next:
        if run.say(step.text, template=step.template):
            run.note("sent")
        return step.next


@handles(d.Ask)
class _Ask:
    def enter(self, step: d.Ask, run: Run) -> Next:
        if run.say(step.text, template=step.template):
            run.note(f"asked for {step.input}")
            if step.timeout_minutes:
                run.actions.append(StartTimer(step.timeout_minutes, run.state.epoch))
        return WAIT

    def resume(self, step: d.Ask, run: Run, event: Event) -> Next:
        if isinstance(event, TimerFired):
            run.note("no answer in time")
            return step.on_timeout
        if not isinstance(event, Reply):
            return WAIT
        value = read(step.input, event.text)
        if value is not None:
            run.save(step.save_as, value)
            return step.next
        return _retry(run, step.retries, step.retry_text or step.text, step.on_invalid, ())


def _retry(
    run: Run, retries: int, text: str, on_invalid: str | None, options: tuple[tuple[str, str], ...]
) -> Next:
    """An answer that does not fit: say the retry text, at most ``retries`` times, then
    go to ``on_invalid`` (or the run fails, for an operator to take over)."""
    run.state.retries += 1
    if run.state.retries > retries:
        if on_invalid is not None:
            run.note("no valid answer")
            return on_invalid
        run.fail(f"no valid answer after {retries} retries")
        return None
    run.note(f"not a valid answer ({run.state.retries} of {retries})")
    run.say(text, options)
    return WAIT


@handles(d.Choose)
class _Choose:
    def enter(self, step: d.Choose, run: Run) -> Next:
        if run.say(step.text, _options(step), step.template):
            run.note(f"offered {len(step.options)} options")
        return WAIT

    def resume(self, step: d.Choose, run: Run, event: Event) -> Next:
        if not isinstance(event, Reply):
            return WAIT
        picked = pick(step, event.text, event.option)
        if picked is None:
            text = step.retry_text or step.text
            return _retry(run, step.retries, text, step.on_invalid, _options(step))
        option = step.options[picked]
        run.note(f"picked {option.label!r}")
        if step.save_as:
            run.save(step.save_as, option.label)
        return option.next


def _options(step: d.Choose) -> tuple[tuple[str, str], ...]:
    return tuple((o.label, str(i + 1)) for i, o in enumerate(step.options))


def pick(step: d.Choose, text: str, option: str | None) -> int | None:
    """Which option an answer picks: a tap (its value), its number, or its label typed."""
    return pick_label([o.label for o in step.options], text, option)


def pick_label(labels: list[str], text: str, option: str | None) -> int | None:
    """Which of ``labels`` (offered as values "1", "2", …) an answer picks."""
    for candidate in (option, text.strip().rstrip(".)")):
        if candidate and candidate.isdigit() and 1 <= int(candidate) <= len(labels):
            return int(candidate) - 1
    typed = text.strip().casefold()
    for i, label in enumerate(labels):
        if label.strip().casefold() == typed:
            return i
    return None


@handles(d.Branch)
class _Branch(_NoWait):
    def enter(self, step: d.Branch, run: Run) -> Next:
        for i, case in enumerate(step.cases):
            if holds(case.if_, run.scope):
                run.note(f"case {i + 1} holds")
                return case.next
        run.note("no case holds")
        return step.else_


def holds(cond: d.Condition, scope: dict[str, Any]) -> bool:
    found = lookup(scope, cond.var)
    value = "" if found is None else str(found)
    if cond.op == "exists":
        return value != ""
    wanted = cond.value or ""
    if cond.op == "equals":
        return value.strip().casefold() == wanted.strip().casefold()
    if cond.op == "contains":
        return wanted.casefold() in value.casefold()
    return re.search(wanted, value[:1000], re.IGNORECASE) is not None


@handles(d.Hours)
class _Hours(_NoWait):
    def enter(self, step: d.Hours, run: Run) -> Next:
        is_open = run.ctx.hours is None or run.ctx.hours.is_open(run.ctx.now)
        run.note("open" if is_open else "closed")
        return step.open if is_open else step.closed


@handles(d.Set)
class _Set(_NoWait):
    def enter(self, step: d.Set, run: Run) -> Next:
        run.save(step.save_as, run.render(step.value))
        return step.next


@handles(d.Tag)
class _Tag(_NoWait):
    def enter(self, step: d.Tag, run: Run) -> Next:
        run.actions.append(SetTags(tuple(step.add), tuple(step.remove)))
        words = [f"+{t}" for t in step.add] + [f"-{t}" for t in step.remove]
        run.note("tagged " + " ".join(words))
        return step.next


@handles(d.Assign)
class _Assign(_NoWait):
    def enter(self, step: d.Assign, run: Run) -> Next:
        run.actions.append(AssignTo(step.team_id, step.operator_id))
        run.note("assigned")
        return step.next


@handles(d.Handoff)
class _Handoff(_NoWait):
    def enter(self, step: d.Handoff, run: Run) -> Next:
        run.actions.append(HandOff(step.team_id))
        run.note("handed off")
        run.state.status = "handed_off"
        return None


@handles(d.Http)
class _Http:
    def enter(self, step: d.Http, run: Run) -> Next:
        body = None if step.body is None else {k: run.render(v) for k, v in step.body.items()}
        run.actions.append(CallHttp(step.method, step.url, body, run.state.epoch))
        run.note(f"called {step.method} {step.url}")
        return WAIT

    def resume(self, step: d.Http, run: Run, event: Event) -> Next:
        if not isinstance(event, HttpDone):
            return WAIT
        if not event.ok:
            run.note(f"call failed: {event.error or 'error'}")
            return step.on_error
        for var, path in (step.save or {}).items():
            value = lookup(
                {"json": event.answer}, path if path.startswith("json") else f"json.{path}"
            )
            run.save(f"vars.{var}", "" if value is None else str(value))
        return step.next


@handles(d.Wait)
class _Wait:
    def enter(self, step: d.Wait, run: Run) -> Next:
        run.actions.append(StartTimer(step.minutes, run.state.epoch))
        run.note(f"waits {step.minutes} min")
        return WAIT

    def resume(self, step: d.Wait, run: Run, event: Event) -> Next:
        return step.next if isinstance(event, TimerFired) else WAIT


OFFER_TEXT = "Which time suits you?"
AGAIN_TEXT = "That time was just taken. Which of these suits you?"
BOOKED_TEXT = "You are booked for {}."
MOVED_TEXT = "Your booking is moved to {}."
CANCELLED_TEXT = "Your booking for {} is cancelled."
BOOK_RETRIES = 2


@handles(d.Book)
class _Book:
    """Looks for slots, offers them, books the pick and confirms it; no slot, a calendar
    that cannot be used or no valid pick goes to ``on_none``. A slot taken meanwhile gets
    fresh slots once."""

    def enter(self, step: d.Book, run: Run) -> Next:
        if step.action == "cancel":
            run.actions.append(CancelBooking(step.booking_type_id, _zone(run), run.state.epoch))
            run.note("cancelling the contact's next booking")
            return WAIT
        return _find_slots(step, run, again=False)

    def resume(self, step: d.Book, run: Run, event: Event) -> Next:
        if step.action == "cancel":
            if not isinstance(event, Booked):
                return WAIT
            if not event.ok:
                run.note(f"not cancelled: {event.error or 'no booking'}")
                return step.on_none
            run.note(f"cancelled the booking for {event.label}")
            run.say(step.text or CANCELLED_TEXT.format(event.label))
            return step.next
        offered = run.state.offered
        if isinstance(event, SlotsFound) and (offered is None or not offered.slots):
            if not event.slots:
                run.note(f"no slots: {event.error}" if event.error else "no free slot")
                return step.on_none
            again = offered is not None and offered.again
            run.state.offered = Offered(slots=list(event.slots), again=again)
            text = AGAIN_TEXT if again else step.text or OFFER_TEXT
            if run.say(text, _slot_options(event.slots)):
                run.note(f"offered {len(event.slots)} slots")
            return WAIT
        if not offered or not offered.slots:
            return WAIT
        if isinstance(event, Reply) and offered.picked is None:
            picked = pick_label([label for _, label in offered.slots], event.text, event.option)
            if picked is None:
                text = step.text or OFFER_TEXT
                return _retry(run, BOOK_RETRIES, text, step.on_none, _slot_options(offered.slots))
            run.state.offered = msgspec.structs.replace(offered, picked=picked)
            start, label = offered.slots[picked]
            run.note(f"picked {label!r}")
            run.actions.append(
                BookSlot(step.booking_type_id, start, run.state.epoch, offered.again, step.action)
            )
            return WAIT
        if isinstance(event, Booked) and offered.picked is not None:
            label = offered.slots[offered.picked][1]
            if event.ok and step.action == "reschedule":
                run.note(f"moved the booking to {label}")
                run.say(MOVED_TEXT.format(label))
                return step.next
            if event.ok:
                run.note(f"booked {label}")
                run.say(BOOKED_TEXT.format(label))
                return step.next
            if event.taken and not offered.again:
                run.note("the slot was just taken")
                return _find_slots(step, run, again=True)
            run.note(f"not booked: {event.error or 'the slot was taken'}")
            return step.on_none
        return WAIT


def _zone(run: Run) -> str | None:
    zone = (run.contact.get("attributes") or {}).get("timezone")
    return zone if isinstance(zone, str) and zone else None


def _find_slots(step: d.Book, run: Run, *, again: bool) -> Next:
    run.state.offered = Offered(again=again)
    find = FindSlots(step.booking_type_id, _zone(run), run.state.epoch, again, step.action)
    run.actions.append(find)
    run.note("looking for free slots")
    return WAIT


def _slot_options(
    slots: list[tuple[str, str]] | tuple[tuple[str, str], ...],
) -> tuple[tuple[str, str], ...]:
    return tuple((label, str(i + 1)) for i, (_, label) in enumerate(slots))


@handles(d.Resolve)
class _Resolve(_NoWait):
    def enter(self, step: d.Resolve, run: Run) -> Next:
        run.actions.append(ResolveConversation())
        run.note("resolved the conversation")
        return None


@handles(d.End)
class _End(_NoWait):
    def enter(self, step: d.End, run: Run) -> Next:
        run.note("ended")
        return None
