"""The flow document: one schema parses it, and validation says every problem at once,
each on its step."""

from __future__ import annotations

from typing import Any

from hub.flows.document import MAX_OPTIONS, STEP_TYPES, Problem, parse, schema_components, validate


def flow(steps: dict[str, Any], start: str = "hello", **trigger: Any) -> dict[str, Any]:
    return {"trigger": {"on": "conversation_started", **trigger}, "start": start, "steps": steps}


GREETING = {
    "hello": {"type": "send", "text": "Hi {{contact.name}}", "next": "email"},
    "email": {
        "type": "ask",
        "text": "Your email?",
        "input": "email",
        "save_as": "contact.email",
        "next": "bye",
    },
    "bye": {"type": "end"},
}


def steps_with_problems(problems: list[Problem]) -> set[str | None]:
    return {p.step for p in problems}


def test_a_sound_flow_has_no_problems() -> None:
    assert validate(flow(GREETING)) == []


def test_every_contract_step_type_is_registered() -> None:
    assert set(STEP_TYPES) >= {
        "send",
        "ask",
        "choose",
        "branch",
        "hours",
        "set",
        "tag",
        "assign",
        "handoff",
        "http",
        "wait",
        "book",
        "resolve",
        "end",
    }


def test_an_unknown_step_type_is_named_on_its_step() -> None:
    problems = validate(flow({**GREETING, "bye": {"type": "dance"}}))
    assert problems == [Problem("bye", "Unknown step type 'dance'.")]


def test_a_dangling_next_is_named_on_the_step_it_leaves() -> None:
    problems = validate(flow({**GREETING, "hello": {"type": "send", "text": "Hi", "next": "nope"}}))
    assert Problem("hello", "'next' goes to 'nope', which does not exist.") in problems


def test_an_unreachable_step_is_named() -> None:
    problems = validate(flow({**GREETING, "lonely": {"type": "end"}}))
    assert problems == [Problem("lonely", "No step leads here: it can never run.")]


def test_a_loop_with_nothing_waiting_is_refused_on_each_of_its_steps() -> None:
    steps = {
        "hello": {"type": "send", "text": "Hi", "next": "again"},
        "again": {"type": "tag", "add": ["x"], "next": "hello"},
    }
    assert steps_with_problems(validate(flow(steps))) == {"hello", "again"}


def test_a_loop_through_an_ask_is_fine() -> None:
    steps = {
        "hello": {"type": "send", "text": "Hi", "next": "q"},
        "q": {
            "type": "ask",
            "text": "Again?",
            "input": "text",
            "save_as": "vars.a",
            "next": "hello",
        },
    }
    assert validate(flow(steps)) == []


def test_a_choose_with_more_options_than_a_channel_shows_is_refused() -> None:
    options = [{"label": f"Option {i}", "next": "bye"} for i in range(MAX_OPTIONS + 1)]
    steps = {
        "hello": {"type": "choose", "text": "Pick", "options": options},
        "bye": {"type": "end"},
    }
    assert steps_with_problems(validate(flow(steps))) == {"hello"}


def test_every_problem_is_found_at_once() -> None:
    steps = {
        "hello": {"type": "send", "text": "Hi", "next": "missing"},
        "odd": {"type": "dance"},
        "q": {"type": "ask", "text": "?", "input": "colour", "save_as": "vars.c"},
    }
    assert steps_with_problems(validate(flow(steps))) == {"hello", "odd", "q"}


def test_a_missing_field_is_named_on_its_step() -> None:
    problems = validate(flow({**GREETING, "email": {"type": "ask", "text": "?", "next": "bye"}}))
    assert [p.step for p in problems] == ["email"]
    assert "input" in problems[0].detail


def test_save_as_must_name_a_contact_field_or_a_variable() -> None:
    steps = {"hello": {"type": "set", "save_as": "workspace.name", "value": "x"}}
    assert steps_with_problems(validate(flow(steps))) == {"hello"}


def test_a_missing_start_step_is_the_flows_problem() -> None:
    problems = validate(flow(GREETING, start="nowhere"))
    assert Problem(None, "The start step 'nowhere' does not exist.") in problems


def test_a_message_trigger_needs_keywords() -> None:
    document = flow(GREETING)
    document["trigger"] = {"on": "message"}
    assert steps_with_problems(validate(document)) == {None}


def test_an_http_step_must_use_https() -> None:
    steps = {
        "hello": {"type": "http", "url": "http://example.com/x", "next": "bye", "on_error": "bye"},
        "bye": {"type": "end"},
    }
    assert steps_with_problems(validate(flow(steps))) == {"hello"}


def test_a_step_needing_a_capability_that_is_off_is_refused() -> None:
    class Booked(STEP_TYPES["end"]):  # type: ignore[misc,valid-type]
        needs = "booking"

    document, problems = parse(flow({"hello": {"type": "end"}}))
    assert document is not None and problems == []
    from hub.flows.document import check

    document.steps["hello"] = Booked()
    assert check(document) == [Problem("hello", "This step needs booking, which is off.")]
    assert check(document, available=frozenset({"booking"})) == []


def test_not_an_object_is_one_problem() -> None:
    assert validate([1, 2]) == [Problem(None, "A flow must be a JSON object.")]


def test_the_schema_describes_every_step_type() -> None:
    _, components = schema_components()
    assert set(STEP_TYPES) <= {
        c["properties"]["type"]["enum"][0]
        for c in components.values()
        if "type" in c.get("properties", {}) and "enum" in c["properties"]["type"]
    }


def test_a_pattern_that_can_take_forever_is_refused() -> None:
    def branch(pattern: str) -> dict[str, Any]:
        return flow(
            {
                "hello": {
                    "type": "branch",
                    "else": "bye",
                    "cases": [
                        {"if": {"var": "vars.x", "op": "matches", "value": pattern}, "next": "bye"}
                    ],
                },
                "bye": {"type": "end"},
            }
        )

    assert steps_with_problems(validate(branch("(a+)+$"))) == {"hello"}
    assert steps_with_problems(validate(branch("(x|y+){2,}"))) == {"hello"}
    assert validate(branch(r"order-(\d+)")) == []


def test_a_book_step_must_name_both_of_its_ways_on() -> None:
    book = {"type": "book", "booking_type_id": "bt_1", "next": "bye", "on_none": "nobody"}
    problems = validate(flow({"hello": book, "bye": {"type": "end"}}))
    assert [p.detail for p in problems] == ["'on_none' goes to 'nobody', which does not exist."]
    missing = validate(flow({"hello": {"type": "book", "booking_type_id": "bt_1", "next": "x"}}))
    assert "on_none" in missing[0].detail
