"""How much typed text a parser reads: refused past a bound, before any pattern runs.

A pattern's work grows with its input, and a few grew with its square: every parser of
people's words (quick send, list filters, request numbers, delays and times) first checks the
length here, so a 40,000-character word or a megabyte is refused without being read. Words
that must still be kept and classified (a customer's SMS) are cut instead, where they arrive.
"""

from __future__ import annotations

from bot.domain.errors import InvalidInput

# Slack sends at most 4,000 characters after a slash command: nothing typed is longer.
MAX_TYPED = 4000


def within(text: str | None, limit: int, *, what: str, field: str | None = None) -> str:
    """Return `text` ("" for None), or refuse it when it is longer than `limit` characters.

    :raise InvalidInput: too long, saying what and the most it may hold.
    """
    text = text or ""
    if len(text) > limit:
        raise InvalidInput(f"{what} is too long: at most {limit:,} characters.", field=field)
    return text
