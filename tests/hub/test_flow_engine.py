"""The interpreter's semantics, step type by step type: state and an event in, actions out,
no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.flows import engine as e
from hub.flows.document import Document, parse
from hub.flows.hours import BusinessHours

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday
NIGHT = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
HOURS = BusinessHours(timezone="Europe/Sarajevo", weekly={"mon": [("09:00", "17:00")]})


def doc(steps: dict[str, Any], start: str = "s") -> Document:
    document, problems = parse(
        {"trigger": {"on": "conversation_started"}, "start": start, "steps": steps}
    )
    assert document is not None and problems == []
    return document


def ctx(**kw: Any) -> e.Context:
    base: dict[str, Any] = {
        "contact": {"name": "Ana", "attributes": {"order": "A7"}},
        "now": NOON,
        "hours": HOURS,
    }
    return e.Context(**{**base, **kw})


def says(outcome: e.Outcome) -> list[str]:
    return [a.text for a in outcome.actions if isinstance(a, e.Say)]


def test_send_renders_its_text_and_goes_on() -> None:
    d = doc(
        {
            "s": {
                "type": "send",
                "text": "Hi {{contact.name}}, order {{contact.attributes.order}}",
                "next": "t",
            },
            "t": {"type": "send", "text": "Bye{{vars.none}}"},
        }
    )
    out = e.start(d, ctx())
    assert says(out) == ["Hi Ana, order A7", "Bye"]
    assert out.state.status == "done"


def test_a_template_runs_no_code() -> None:
    d = doc({"s": {"type": "send", "text": "{{ contact.__class__ }}{{ 1+1 }}{% if x %}"}})
    assert says(e.start(d, ctx())) == ["{{ 1+1 }}{% if x %}"]


def test_message_text_is_the_contacts_last_message() -> None:
    d = doc({"s": {"type": "send", "text": "You said: {{message.text}}"}})
    assert says(e.start(d, ctx(), message_text="hello")) == ["You said: hello"]


ASK = {
    "s": {
        "type": "ask",
        "text": "Your email?",
        "input": "email",
        "save_as": "contact.email",
        "retry_text": "That is not an email.",
        "retries": 1,
        "next": "t",
        "on_invalid": "h",
    },
    "t": {"type": "send", "text": "Thanks, {{contact.email}}"},
    "h": {"type": "handoff"},
}


def test_ask_asks_and_waits() -> None:
    out = e.start(doc(ASK), ctx())
    assert says(out) == ["Your email?"] and out.state.status == "waiting"


def test_ask_saves_a_valid_answer_to_the_contact_and_goes_on() -> None:
    d = doc(ASK)
    out = e.advance(d, e.start(d, ctx()).state, e.Reply(" Ana@Example.com "), ctx())
    assert e.SaveContact("email", "ana@example.com") in out.actions
    assert says(out) == ["Thanks, ana@example.com"]
    assert out.state.status == "done"


def test_ask_says_the_retry_text_on_an_invalid_answer_then_takes_on_invalid() -> None:
    d = doc(ASK)
    first = e.advance(d, e.start(d, ctx()).state, e.Reply("not an email"), ctx())
    assert says(first) == ["That is not an email."] and first.state.status == "waiting"
    second = e.advance(d, first.state, e.Reply("still not"), ctx())
    assert second.actions == [e.HandOff(None)] and second.state.status == "handed_off"


def test_ask_without_on_invalid_fails_visibly_after_its_retries() -> None:
    steps = {"s": {**ASK["s"], "retries": 0}, "t": ASK["t"]}
    del steps["s"]["on_invalid"]
    d = doc(steps)
    out = e.advance(d, e.start(d, ctx()).state, e.Reply("nope"), ctx())
    assert out.state.status == "failed" and out.state.error == "no valid answer after 0 retries"


def test_ask_with_a_timeout_starts_a_timer_and_takes_on_timeout_when_it_fires() -> None:
    d = doc(
        {"s": {**ASK["s"], "timeout_minutes": 30, "on_timeout": "t"}, "t": ASK["t"], "h": ASK["h"]}
    )
    started = e.start(d, ctx())
    assert e.StartTimer(30, started.state.epoch) in started.actions
    out = e.advance(d, started.state, e.TimerFired(started.state.epoch), ctx())
    assert says(out) == ["Thanks, "]


def test_a_stale_timer_changes_nothing() -> None:
    d = doc(
        {"s": {**ASK["s"], "timeout_minutes": 30, "on_timeout": "t"}, "t": ASK["t"], "h": ASK["h"]}
    )
    state = e.start(d, ctx()).state
    out = e.advance(d, state, e.TimerFired(state.epoch - 1), ctx())
    assert out.actions == [] and out.state == state


def test_each_input_kind_reads_what_it_should() -> None:
    from hub.flows.inputs import read

    assert read("phone", "+387 61 123-456") == "+38761123456"
    assert read("phone", "call me") is None
    assert read("number", "3,5") == "3.5"
    assert read("number", "three") is None
    assert read("date", "25.12.2026") == "2026-12-25"
    assert read("date", "tomorrow") is None
    assert read("text", "   ") is None


CHOOSE = {
    "s": {
        "type": "choose",
        "text": "Which team?",
        "save_as": "vars.team",
        "options": [{"label": "Sales", "next": "a"}, {"label": "Support", "next": "b"}],
    },
    "a": {"type": "send", "text": "Sales it is"},
    "b": {"type": "send", "text": "Support it is ({{vars.team}})"},
}


def test_choose_offers_its_options_as_label_and_value() -> None:
    out = e.start(doc(CHOOSE), ctx())
    assert out.actions == [e.Say("Which team?", (("Sales", "1"), ("Support", "2")))]


def test_a_tap_a_number_and_a_typed_label_pick_the_same_option() -> None:
    d = doc(CHOOSE)
    state = e.start(d, ctx()).state
    for reply in (e.Reply("Support", option="2"), e.Reply("2"), e.Reply("  support ")):
        assert says(e.advance(d, state, reply, ctx())) == ["Support it is (Support)"]


def test_choose_repeats_its_options_on_an_answer_that_picks_none() -> None:
    d = doc(CHOOSE)
    out = e.advance(d, e.start(d, ctx()).state, e.Reply("7"), ctx())
    assert out.actions == [e.Say("Which team?", (("Sales", "1"), ("Support", "2")))]


def test_branch_takes_the_first_case_that_holds_else_its_else() -> None:
    steps = {
        "s": {
            "type": "branch",
            "else": "c",
            "cases": [
                {"if": {"var": "contact.email", "op": "exists"}, "next": "a"},
                {
                    "if": {"var": "contact.attributes.order", "op": "matches", "value": "^a\\d"},
                    "next": "b",
                },
            ],
        },
        "a": {"type": "send", "text": "a"},
        "b": {"type": "send", "text": "b"},
        "c": {"type": "send", "text": "c"},
    }
    assert says(e.start(doc(steps), ctx())) == ["b"]
    assert says(e.start(doc(steps), ctx(contact={"email": "x@y.z"}))) == ["a"]
    assert says(e.start(doc(steps), ctx(contact={}))) == ["c"]


HOURS_FLOW = {
    "s": {"type": "hours", "open": "o", "closed": "c"},
    "o": {"type": "send", "text": "open"},
    "c": {"type": "send", "text": "closed"},
}


def test_hours_is_open_by_day_and_closed_at_night_in_the_workspaces_zone() -> None:
    assert says(e.start(doc(HOURS_FLOW), ctx(now=NOON))) == ["open"]
    assert says(e.start(doc(HOURS_FLOW), ctx(now=NIGHT))) == ["closed"]


def test_hours_is_closed_on_a_holiday() -> None:
    holiday = BusinessHours(timezone="UTC", weekly=HOURS.weekly, holidays=["2026-12-07"])
    assert says(e.start(doc(HOURS_FLOW), ctx(hours=holiday))) == ["closed"]


def test_set_saves_a_rendered_value() -> None:
    d = doc(
        {
            "s": {
                "type": "set",
                "save_as": "contact.attributes.vip",
                "value": "{{contact.name}}!",
                "next": "t",
            },
            "t": {"type": "send", "text": "{{contact.attributes.vip}}"},
        }
    )
    out = e.start(d, ctx())
    assert out.actions == [e.SaveContact("attributes.vip", "Ana!"), e.Say("Ana!")]


def test_tag_assign_resolve_are_actions() -> None:
    d = doc(
        {
            "s": {"type": "tag", "add": ["lead"], "remove": ["new"], "next": "a"},
            "a": {"type": "assign", "team_id": "tm_1", "next": "r"},
            "r": {"type": "resolve"},
        }
    )
    out = e.start(d, ctx())
    assert out.actions == [
        e.SetTags(("lead",), ("new",)),
        e.AssignTo("tm_1", None),
        e.ResolveConversation(),
    ]
    assert out.state.status == "done"


def test_handoff_ends_the_run_as_handed_off() -> None:
    d = doc({"s": {"type": "handoff", "team_id": "tm_1"}})
    out = e.start(d, ctx())
    assert out.actions == [e.HandOff("tm_1")] and out.state.status == "handed_off"


HTTP = {
    "s": {
        "type": "http",
        "method": "POST",
        "url": "https://api.example.com/orders",
        "body": {"order": "{{contact.attributes.order}}"},
        "save": {"state": "json.order.state"},
        "next": "ok",
        "on_error": "bad",
    },
    "ok": {"type": "send", "text": "Your order is {{vars.state}}"},
    "bad": {"type": "send", "text": "Sorry"},
}


def test_http_asks_the_runner_to_call_and_saves_fields_of_the_answer() -> None:
    d = doc(HTTP)
    started = e.start(d, ctx())
    call = started.actions[0]
    assert call == e.CallHttp(
        "POST", "https://api.example.com/orders", {"order": "A7"}, started.state.epoch
    )
    answer = {"order": {"state": "shipped"}}
    out = e.advance(d, started.state, e.HttpDone(call.epoch, True, answer), ctx())
    assert says(out) == ["Your order is shipped"]


def test_http_failure_takes_the_error_branch() -> None:
    d = doc(HTTP)
    started = e.start(d, ctx())
    out = e.advance(
        d, started.state, e.HttpDone(started.state.epoch, False, error="timeout"), ctx()
    )
    assert says(out) == ["Sorry"]


def test_a_message_during_an_http_call_changes_nothing() -> None:
    d = doc(HTTP)
    state = e.start(d, ctx()).state
    assert e.advance(d, state, e.Reply("hello?"), ctx()).actions == []


def test_wait_starts_a_timer_and_goes_on_when_it_fires() -> None:
    d = doc({"s": {"type": "wait", "minutes": 5, "next": "t"}, "t": {"type": "send", "text": "hi"}})
    started = e.start(d, ctx())
    assert started.actions == [e.StartTimer(5, started.state.epoch)]
    assert e.advance(d, started.state, e.Reply("x"), ctx()).actions == []
    assert says(e.advance(d, started.state, e.TimerFired(started.state.epoch), ctx())) == ["hi"]


def test_end_ends_the_run() -> None:
    out = e.start(doc({"s": {"type": "end"}}), ctx())
    assert out.state.status == "done" and out.actions == []


def test_a_run_is_cut_off_after_100_steps_without_waiting() -> None:
    # Validation refuses such a loop; a document that slipped past it is cut off at run time.
    from hub.flows.document import Document, Send

    looping = Document(
        trigger=doc({"s": {"type": "end"}}).trigger,
        start="s",
        steps={"s": Send(text="again", next="s")},
    )
    out = e.start(looping, ctx())
    assert out.state.status == "failed" and len(says(out)) == 100


def test_outside_the_channels_window_a_flow_hands_off_instead_of_sending() -> None:
    out = e.start(doc(ASK), ctx(may_send=False))
    assert out.actions == [e.HandOff(None)] and out.state.status == "handed_off"


def test_outside_the_window_a_step_that_names_a_template_sends_it() -> None:
    template = {"name": "order_update", "language": "en", "parameters": ["{{contact.name}}"]}
    d = doc({"s": {**ASK["s"], "template": template}, **{k: v for k, v in ASK.items() if k != "s"}})
    out = e.start(d, ctx(may_send=False))
    (say,) = out.actions
    assert isinstance(say, e.Say) and say.template == ("order_update", "en", ("Ana",))
    assert out.state.status == "waiting"
    assert "sent the template 'order_update'" in out.log[0].outcome


def test_a_refused_message_follows_the_steps_error_branch() -> None:
    d = doc(
        {
            "s": {
                "type": "ask",
                "text": "Email?",
                "input": "email",
                "save_as": "vars.e",
                "on_error": "human",
            },
            "human": {"type": "handoff"},
        }
    )
    state = e.start(d, ctx()).state
    out = e.advance(d, state, e.SendRefused("s", "The number is not on WhatsApp."), ctx())
    assert out.state.status == "handed_off"
    assert out.log[0].outcome == ("the channel refused the message: The number is not on WhatsApp.")


def test_a_refused_message_without_an_error_branch_fails_the_run_with_the_reason() -> None:
    d = doc(ASK)
    state = e.start(d, ctx()).state
    out = e.advance(d, state, e.SendRefused("s", "The number is not on WhatsApp."), ctx())
    assert out.state.status == "failed"
    assert out.state.error is not None and "not on WhatsApp" in out.state.error


def test_a_finished_run_takes_no_more_events() -> None:
    d = doc({"s": {"type": "end"}})
    state = e.start(d, ctx()).state
    assert e.advance(d, state, e.Reply("hi"), ctx()).actions == []


def test_each_step_leaves_a_line_saying_what_the_bot_did() -> None:
    d = doc(ASK)
    out = e.advance(d, e.start(d, ctx()).state, e.Reply("ana@example.com"), ctx())
    assert out.log == [e.StepLog("s", "saved contact.email"), e.StepLog("t", "sent")]


BOOK: dict[str, Any] = {
    "s": {
        "type": "book",
        "booking_type_id": "bt_1",
        "text": "When?",
        "next": "ok",
        "on_none": "none",
    },
    "ok": {"type": "send", "text": "See you"},
    "none": {"type": "send", "text": "An operator will help"},
}
SLOTS = (
    ("2026-12-08T09:00:00.000Z", "Tue 8 Dec, 10:00"),
    ("2026-12-08T10:00:00.000Z", "Tue 8 Dec, 11:00"),
)


def offered(**contact: Any) -> tuple[Document, e.Outcome]:
    d = doc(BOOK)
    c = ctx(contact={"name": "Ana", "attributes": contact}) if contact else ctx()
    started = e.start(d, c)
    out = e.advance(d, started.state, e.SlotsFound(started.state.epoch, SLOTS), c)
    return d, out


def test_book_asks_the_runner_for_slots_in_the_contacts_zone() -> None:
    started = e.start(doc(BOOK), ctx(contact={"attributes": {"timezone": "Asia/Tokyo"}}))
    assert started.actions == [e.FindSlots("bt_1", "Asia/Tokyo", started.state.epoch)]
    assert started.state.status == "waiting"
    unknown = e.start(doc(BOOK), ctx())
    assert unknown.actions == [e.FindSlots("bt_1", None, unknown.state.epoch)]


def test_book_offers_the_slots_as_options() -> None:
    _, out = offered()
    [say] = out.actions
    assert say == e.Say("When?", (("Tue 8 Dec, 10:00", "1"), ("Tue 8 Dec, 11:00", "2")))


@pytest.mark.parametrize(("text", "option"), [("x", "2"), ("2", None), ("tue 8 dec, 11:00", None)])
def test_book_books_the_pick_and_confirms_it(text: str, option: str | None) -> None:
    d, out = offered()
    picked = e.advance(d, out.state, e.Reply(text, option), ctx())
    assert picked.actions == [e.BookSlot("bt_1", SLOTS[1][0], out.state.epoch)]
    assert e.advance(d, picked.state, e.Reply("hello?"), ctx()).actions == []
    done = e.advance(d, picked.state, e.Booked(out.state.epoch, True), ctx())
    assert says(done) == ["You are booked for Tue 8 Dec, 11:00.", "See you"]
    assert done.state.status == "done"


def test_book_with_action_reschedule_moves_the_booking_to_the_pick() -> None:
    d = doc({**BOOK, "s": {**BOOK["s"], "action": "reschedule"}})
    started = e.start(d, ctx())
    assert started.actions == [e.FindSlots("bt_1", None, started.state.epoch, action="reschedule")]
    out = e.advance(d, started.state, e.SlotsFound(started.state.epoch, SLOTS), ctx())
    picked = e.advance(d, out.state, e.Reply("1"), ctx())
    epoch = out.state.epoch
    assert picked.actions == [e.BookSlot("bt_1", SLOTS[0][0], epoch, action="reschedule")]
    done = e.advance(d, picked.state, e.Booked(epoch, True), ctx())
    assert says(done) == ["Your booking is moved to Tue 8 Dec, 10:00.", "See you"]


def test_book_with_action_cancel_cancels_and_confirms_or_takes_on_none() -> None:
    d = doc(
        {**BOOK, "s": {k: v for k, v in BOOK["s"].items() if k != "text"} | {"action": "cancel"}}
    )
    started = e.start(d, ctx(contact={"attributes": {"timezone": "Asia/Tokyo"}}))
    assert started.actions == [e.CancelBooking("bt_1", "Asia/Tokyo", started.state.epoch)]
    epoch = started.state.epoch
    done = e.advance(d, started.state, e.Booked(epoch, True, label="Tue 8 Dec, 18:00"), ctx())
    assert says(done) == ["Your booking for Tue 8 Dec, 18:00 is cancelled.", "See you"]
    none = e.advance(d, started.state, e.Booked(epoch, False, error="no booking"), ctx())
    assert says(none) == ["An operator will help"]


def test_book_without_slots_or_with_an_unreadable_calendar_takes_on_none() -> None:
    d = doc(BOOK)
    for event in (e.SlotsFound(1, ()), e.SlotsFound(1, (), error="The calendar is broken.")):
        state = e.start(d, ctx()).state
        out = e.advance(d, state, event, ctx())
        assert says(out) == ["An operator will help"]
    assert "no slots: The calendar is broken." in [line.outcome for line in out.log]


def test_a_taken_slot_gets_fresh_slots_once_then_on_none() -> None:
    d, out = offered()
    epoch = out.state.epoch
    picked = e.advance(d, out.state, e.Reply("1"), ctx())
    taken = e.advance(d, picked.state, e.Booked(epoch, False, taken=True), ctx())
    assert taken.actions == [e.FindSlots("bt_1", None, epoch, again=True)]
    fresh = e.advance(d, taken.state, e.SlotsFound(epoch, SLOTS[1:]), ctx())
    assert says(fresh) == ["That time was just taken. Which of these suits you?"]
    again = e.advance(d, fresh.state, e.Reply("1"), ctx())
    assert again.actions == [e.BookSlot("bt_1", SLOTS[1][0], epoch, again=True)]
    out = e.advance(d, again.state, e.Booked(epoch, False, taken=True), ctx())
    assert says(out) == ["An operator will help"]


def test_a_provider_error_while_booking_takes_on_none() -> None:
    d, out = offered()
    picked = e.advance(d, out.state, e.Reply("1"), ctx())
    failed = e.advance(d, picked.state, e.Booked(out.state.epoch, False, error="down"), ctx())
    assert says(failed) == ["An operator will help"]
    assert "not booked: down" in [line.outcome for line in failed.log]


def test_no_valid_pick_is_retried_then_takes_on_none() -> None:
    d, out = offered()
    state = out.state
    for _ in range(2):
        retry = e.advance(d, state, e.Reply("tomorrow?"), ctx())
        assert retry.actions[0] == e.Say("When?", out.actions[0].options)  # type: ignore[union-attr]
        state = retry.state
    assert says(e.advance(d, state, e.Reply("never"), ctx())) == ["An operator will help"]
