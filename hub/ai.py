"""What the hub asks an AI provider and how it reads the answers: pure, no I/O.

Three promises live here (docs/ai.md): personal details are replaced by placeholders
before anything leaves (:func:`redact`); a prompt carries only the turns it is given (the
caller picks the last N, text only); an answer that does not fit what was asked is
``None``, which the caller turns into the step's fallback, never into a broken run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.flows import inputs

Role = Literal["system", "user", "assistant"]
FieldKind = Literal["text", "email", "phone", "number", "date"]

# Below this self-reported confidence a classification takes ``else`` and a reply hands off.
MIN_CONFIDENCE = 0.6

# Card-like first: 13-19 digits, optionally grouped by spaces or dashes, passing the Luhn
# check that every payment card number passes (the rest may still be a phone number).
_CARD = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?!\w)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A phone number: an optional + or 00, then 7-15 digits in groups of spaces, dots, dashes
# or brackets. Long plain numbers count too: better one order number hidden than a phone
# number sent.
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?\(?\d(?:[ ./()\-]{0,2}\d){6,14}(?![\w])")
# Dates look like phone numbers to the pattern above; they are kept.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_PLACEHOLDER = re.compile(r"\[(email|phone|card)_(\d{1,4})\]")


@dataclass(frozen=True, slots=True)
class Redacted:
    """The text with placeholders, and what each placeholder stands for (kept locally)."""

    text: str
    found: dict[str, str] = field(default_factory=dict)


class Redactor:
    """Replaces email addresses, payment-card-like numbers and phone numbers with
    numbered placeholders (``[email_1]``, ``[card_1]``, ``[phone_1]``), the same value
    getting the same placeholder across every text of one call."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}

    def __call__(self, text: str) -> str:
        text = _EMAIL.sub(lambda m: self._placeholder("email", m.group(0)), text)
        text = _CARD.sub(self._card, text)
        return _PHONE.sub(self._phone, text)

    def _card(self, match: re.Match[str]) -> str:
        value = match.group(0)
        if _luhn(value):
            return self._placeholder("card", value)
        return _PHONE.sub(self._phone, value)

    def _phone(self, match: re.Match[str]) -> str:
        value = match.group(0)
        if _DATE.fullmatch(value.strip("()")):
            return value
        return self._placeholder("phone", value)

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._by_value:
            count = sum(1 for k, _ in self._by_value if k == kind) + 1
            self._by_value[key] = f"[{kind}_{count}]"
            self.found[self._by_value[key]] = value
        return self._by_value[key]


def _luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def redact(text: str) -> Redacted:
    """One text redacted on its own."""
    redactor = Redactor()
    return Redacted(redactor(text), dict(redactor.found))


def restore(value: str, found: Mapping[str, str]) -> str:
    """Put back what placeholders stand for (an extracted email or phone number stays
    local and exact); card numbers are never put back."""

    def back(match: re.Match[str]) -> str:
        if match.group(1) == "card":
            return match.group(0)
        return found.get(match.group(0), match.group(0))

    return _PLACEHOLDER.sub(back, value)


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation as the provider sees it: who (the contact is the
    ``user``, the business the ``assistant``) and the redacted text; never a name or id."""

    role: Literal["user", "assistant"]
    text: str


def chat(system: str, turns: Sequence[Turn], last: str | None = None) -> list[dict[str, str]]:
    """The chat-completions ``messages``: the instruction, the turns, an optional last ask."""
    messages = [{"role": "system", "content": system}]
    messages.extend({"role": t.role, "content": t.text} for t in turns)
    if last is not None:
        messages.append({"role": "system", "content": last})
    return messages


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


# The features: each a prompt builder and an answer reader --------------------------------

_PRIVACY = (
    "Placeholders such as [email_1] or [phone_1] stand for details hidden from you; "
    "never guess them."
)


def classify_prompt(labels: Sequence[str], turns: Sequence[Turn]) -> list[dict[str, str]]:
    return chat(
        "You sort a customer's last message into exactly one of these labels: "
        f"{_quoted(labels)}. {_PRIVACY} Answer only with a JSON object "
        '{"label": <one of the labels or null>, "confidence": <0 to 1>}.',
        turns,
    )


def read_classification(answer: Any, labels: Sequence[str]) -> tuple[str, float] | None:
    """The label picked and its confidence; None for an answer that is not one of them."""
    if not isinstance(answer, dict):
        return None
    label, confidence = answer.get("label"), _confidence(answer.get("confidence"))
    if confidence is None or not isinstance(label, str):
        return None
    for wanted in labels:
        if wanted.casefold() == label.strip().casefold():
            return wanted, confidence
    return None


def extract_prompt(fields: Mapping[str, FieldKind], turns: Sequence[Turn]) -> list[dict[str, str]]:
    wanted = ", ".join(f'"{name}" ({kind})' for name, kind in fields.items())
    return chat(
        f"You read a conversation with a customer and fill these fields: {wanted}. "
        "Dates are YYYY-MM-DD. Use null for a field the conversation does not give. "
        f"{_PRIVACY} If a field's value is a placeholder, answer the placeholder as is. "
        "Answer only with a JSON object with exactly these keys.",
        turns,
    )


def read_extraction(
    answer: Any, fields: Mapping[str, FieldKind], found: Mapping[str, str]
) -> dict[str, str] | None:
    """Every field, validated like an ``ask`` input; None when any is missing or invalid."""
    if not isinstance(answer, dict):
        return None
    values: dict[str, str] = {}
    for name, kind in fields.items():
        raw = answer.get(name)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str):
            return None
        value = read_input(kind, restore(raw, found))
        if value is None:
            return None
        values[name] = value
    return values


def read_input(kind: FieldKind, text: str) -> str | None:
    """A value in the shape ``kind`` asks for, read exactly as an ``ask`` step reads the
    contact's answer, or None; a value still holding a placeholder is none."""
    text = text.strip()
    if not text or len(text) > 500 or _PLACEHOLDER.search(text):
        return None
    return inputs.read(kind, text)


@dataclass(frozen=True, slots=True)
class Snippet:
    """A question/answer snippet of the step; or, with ``document`` set, a passage of the
    workspace's document of that title (``a`` its text, ``q`` empty)."""

    q: str
    a: str
    document: str | None = None

    def numbered(self, number: int) -> str:
        if self.document is not None:
            return f'[{number}] From the document "{self.document}":\n{self.a}'
        return f"[{number}] Q: {self.q}\nA: {self.a}"


def reply_prompt(knowledge: Sequence[Snippet], turns: Sequence[Turn]) -> list[dict[str, str]]:
    numbered = "\n".join(s.numbered(i + 1) for i, s in enumerate(knowledge))
    return chat(
        "You answer a customer's last message for a business, using ONLY these facts:\n"
        f"{numbered}\n"
        "If the facts do not answer it, say so with confident false. "
        f"{_PRIVACY} Answer only with a JSON object "
        '{"answer": <text for the customer>, "sources": [<numbers of the facts used>], '
        '"confident": <true or false>, "confidence": <0 to 1>}.',
        turns,
    )


def read_reply(answer: Any, knowledge: Sequence[Snippet]) -> str | None:
    """The answer when the model is confident and names facts that exist; else None
    (the step hands off). An answer holding a placeholder is never sent to the contact."""
    if not isinstance(answer, dict) or answer.get("confident") is not True:
        return None
    confidence = _confidence(answer.get("confidence", 1))
    text, sources = answer.get("answer"), answer.get("sources")
    if confidence is None or confidence < MIN_CONFIDENCE or not isinstance(text, str):
        return None
    if not isinstance(sources, list) or not sources:
        return None
    if not all(type(s) is int and 1 <= s <= len(knowledge) for s in sources):
        return None
    text = text.strip()
    if not text or len(text) > 4000 or _PLACEHOLDER.search(text):
        return None
    return text


def summary_prompt(turns: Sequence[Turn]) -> list[dict[str, str]]:
    return chat(
        "Summarise this customer conversation for a colleague in at most five short "
        f"sentences: what the customer wants, what was done, what is open. {_PRIVACY} "
        'Answer only with a JSON object {"summary": <text>}.',
        turns,
    )


def suggest_prompt(turns: Sequence[Turn], hint: str | None) -> list[dict[str, str]]:
    ask = f" The operator's instruction: {hint}" if hint else ""
    return chat(
        "Draft the business's next reply to the customer, short and friendly; an operator "
        f"will edit it before sending.{ask} {_PRIVACY} Keep placeholders as they are. "
        'Answer only with a JSON object {"reply": <text>}.',
        turns,
    )


def read_text(answer: Any, key: str, found: Mapping[str, str]) -> str | None:
    """A summary or draft (placeholders put back: it stays with the operator)."""
    if not isinstance(answer, dict):
        return None
    value = answer.get(key)
    if not isinstance(value, str) or not value.strip():
        return None
    return restore(value.strip()[:4000], found)


def _confidence(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= 1 else None
