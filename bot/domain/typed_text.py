"""Rules every typed text follows: no control characters, and refusals in the user's words.

A control character in a stored value breaks whatever it reaches later (a line break in a
sender name makes an email header invalid, a NUL byte is refused by PostgreSQL), so text is
refused where it is typed, with the reason, and never cut or stored silently.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

# Line breaks a multi-line text (an email body, an SMS text) may hold, and a tab.
_MULTILINE_ALLOWED = frozenset("\n\r\t")
# Unicode's own line and paragraph separators break a header line as surely as "\n".
_LINE_SEPARATORS = frozenset("\u2028\u2029")


def _is_control(char: str, *, multiline: bool) -> bool:
    if multiline and char in _MULTILINE_ALLOWED:
        return False
    if char in _LINE_SEPARATORS:
        return True
    return unicodedata.category(char) == "Cc"  # C0 (U+0000-U+001F), DEL and C1 (U+0080-U+009F)


def control_character_reason(value: str, *, multiline: bool = False) -> str | None:
    """Say why a text is refused for a control character in it, or None when it has none."""
    for char in value:
        if _is_control(char, multiline=multiline):
            if char in "\n\r" or char in _LINE_SEPARATORS:
                return "must be on one line (it contains a line break)"
            return f"contains a control character (U+{ord(char):04X}), which is not allowed"
    return None


def without_control_characters(value: str, *, multiline: bool = False) -> str:
    """Replace each control character by a space: for values stored before they were refused,
    and for what goes into a header line, which must never hold a line break."""
    if control_character_reason(value, multiline=multiline) is None:
        return value
    return "".join(" " if _is_control(c, multiline=multiline) else c for c in value)


def too_long_reason(limit: int, length: int) -> str:
    """Say that a text is over its limit, with both numbers."""
    return f"at most {limit:,} characters (got {length:,})"


def validation_reason(error: Mapping[str, Any]) -> str:
    """Word one of pydantic's field errors for the person who typed the value."""
    context = error.get("ctx") or {}
    value = error.get("input")
    if error.get("type") == "string_too_long" and isinstance(value, str):
        return too_long_reason(int(context["max_length"]), len(value))
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")
