"""What an ``ask`` step accepts: each input kind reads a contact's answer into a value, or
says None when the answer is not one."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}\.[A-Za-z]{2,63}")
_PHONE_NOISE = re.compile(r"[\s\-().]")
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d. %m. %Y", "%d.%m.%Y.")


def read_text(answer: str) -> str | None:
    return answer if answer else None


def read_email(answer: str) -> str | None:
    return answer.lower() if _EMAIL.fullmatch(answer) else None


def read_phone(answer: str) -> str | None:
    """E.164 digits: an optional ``+`` (or ``00``) and 6 to 15 digits; spaces, dashes,
    dots and brackets ignored."""
    digits = _PHONE_NOISE.sub("", answer)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    bare = digits.removeprefix("+")
    if not (bare.isdigit() and bare.isascii() and 6 <= len(bare) <= 15):
        return None
    return digits


def read_number(answer: str) -> str | None:
    """A decimal number, with a comma or a dot, kept as its text (no float rounding)."""
    candidate = answer.replace(",", ".").replace(" ", "")
    if len(candidate) > 40:
        return None
    try:
        value = Decimal(candidate)
    except InvalidOperation:
        return None
    return str(value) if value.is_finite() else None


def read_date(answer: str) -> str | None:
    """A calendar date as YYYY-MM-DD (from 2026-12-25, 25.12.2026 or 25/12/2026)."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(answer, fmt).date().isoformat()
        except ValueError:
            continue
    try:
        return date.fromisoformat(answer).isoformat()
    except ValueError:
        return None


READERS: dict[str, Callable[[str], str | None]] = {
    "text": read_text,
    "email": read_email,
    "phone": read_phone,
    "number": read_number,
    "date": read_date,
}


def read(kind: str, answer: str) -> str | None:
    return READERS[kind](answer.strip()[:1000])
