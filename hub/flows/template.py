"""Texts with ``{{contact.name}}``, ``{{contact.attributes.x}}``, ``{{vars.x}}`` and
``{{message.text}}``: values are looked up, never evaluated; a missing one renders empty.

Rendered text is plain text: whoever displays it escapes it (the inbox and widget set
``textContent``), so a value can never become markup or code."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")


def lookup(scope: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (``contact.attributes.order``), or None."""
    value: Any = scope
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def render(text: str, scope: Mapping[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        value = lookup(scope, match.group(1))
        if value is None or isinstance(value, Mapping | list):
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    return _PLACEHOLDER.sub(one, text)
