"""What the hub sends an AI provider and how it reads answers (hub/ai.py): pure functions."""

from __future__ import annotations

import pytest

from hub import ai
from hub.ai import Redactor, Snippet, Turn, redact, restore


@pytest.mark.parametrize(
    "text",
    [
        "write to jane.roe+shop@example.co.uk please",
        "JANE@EXAMPLE.COM",
        "call +387 61 123 456",
        "call 00387 61 123 456",
        "call (061) 123-4567",
        "tel 061/123-456",
        "my mobile 0611234567",
        "call +1 (555) 010-9999 after 5",
        "card 4111 1111 1111 1111",
        "card 4111-1111-1111-1111",
        "card 5500005555555559",
    ],
)
def test_emails_phone_numbers_and_cards_never_survive_redaction(text: str) -> None:
    redacted = redact(text)
    digits = [c for c in redacted.text if c.isdigit()]
    assert "@" not in redacted.text
    assert len(digits) <= 2, redacted.text  # only a placeholder's number remains
    assert redacted.found


@pytest.mark.parametrize(
    "text",
    [
        "order A-1002 arrives on 2026-12-24",
        "see you 24.12.2026 at 10:30",
        "it costs 1999 euros for 3 items",
        "version 12.5",
    ],
)
def test_ordinary_numbers_and_dates_are_kept(text: str) -> None:
    assert redact(text).text == text


def test_a_non_card_long_number_is_not_a_card() -> None:
    assert "[card_" not in redact("ticket 4111 1111 1111 1112").text


def test_the_same_value_gets_the_same_placeholder_across_texts() -> None:
    redactor = Redactor()
    first = redactor("I am jane@example.com")
    second = redactor("again: jane@example.com, or bob@example.com")
    assert first == "I am [email_1]"
    assert second == "again: [email_1], or [email_2]"
    assert redactor.found == {"[email_1]": "jane@example.com", "[email_2]": "bob@example.com"}


def test_restore_puts_emails_and_phones_back_but_never_cards() -> None:
    found = {"[email_1]": "a@b.co", "[phone_1]": "+387 61 1", "[card_1]": "4111111111111111"}
    assert restore("[email_1] / [phone_1] / [card_1]", found) == "a@b.co / +387 61 1 / [card_1]"


def test_a_classification_must_be_one_of_the_labels() -> None:
    labels = ["Order", "refund"]
    assert ai.read_classification({"label": "order", "confidence": 0.9}, labels) == ("Order", 0.9)
    assert ai.read_classification({"label": "other", "confidence": 0.9}, labels) is None
    assert ai.read_classification({"label": "refund", "confidence": 7}, labels) is None
    assert ai.read_classification(["refund"], labels) is None


def test_an_extraction_is_validated_like_ask_inputs() -> None:
    fields: dict[str, ai.FieldKind] = {"n": "number", "d": "date", "p": "phone"}
    good = {"n": 3, "d": "2026-12-24", "p": "[phone_1]"}
    found = {"[phone_1]": "+387 61 123 456"}
    assert ai.read_extraction(good, fields, found) == {
        "n": "3",
        "d": "2026-12-24",
        "p": "+38761123456",
    }
    assert ai.read_extraction({**good, "d": "tomorrow"}, fields, found) is None
    assert ai.read_extraction({"n": 3, "d": "2026-12-24"}, fields, found) is None


def test_a_reply_must_be_confident_and_name_the_facts_it_used() -> None:
    knowledge = [Snippet("q", "a")]
    good = {"answer": "Yes.", "sources": [1], "confident": True}
    assert ai.read_reply(good, knowledge) == "Yes."
    assert ai.read_reply({**good, "sources": [2]}, knowledge) is None
    assert ai.read_reply({**good, "sources": [True]}, knowledge) is None
    assert ai.read_reply({**good, "answer": "mail [email_1]"}, knowledge) is None
    assert ai.read_reply({**good, "confident": "yes"}, knowledge) is None


def test_a_prompt_carries_the_turns_and_no_one_s_name() -> None:
    messages = ai.summary_prompt([Turn("user", "hello"), Turn("assistant", "hi")])
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert [m["content"] for m in messages[1:]] == ["hello", "hi"]


def test_an_ai_step_needs_ai_and_its_cases_must_name_its_labels() -> None:
    from hub.flows import document

    flow = {
        "trigger": {"on": "conversation_started"},
        "start": "s",
        "steps": {
            "s": {"type": "ai_classify", "labels": ["a"], "cases": {"a": "e"}, "else": "e"},
            "e": {"type": "end"},
        },
    }
    assert document.validate(flow, available=frozenset({"ai"})) == []
    (off,) = document.validate(flow)
    assert off.step == "s" and "needs ai" in off.detail
    flow["steps"]["s"]["cases"] = {"b": "e"}  # type: ignore[index]
    (wrong,) = document.validate(flow, available=frozenset({"ai"}))
    assert wrong.step == "s" and "'b'" in wrong.detail
