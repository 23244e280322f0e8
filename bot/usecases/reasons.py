"""A failure's reason as it is stored: providers and mail servers explain at length.

A receiving server's bounce may quote a policy page or a whole transcript; stored as it came,
it would not fit its column (PostgreSQL refuses the write, so the report or the send's result
would be lost). Every reason is cut here, where the use-cases write it.
"""

from __future__ import annotations

from store.models import ERROR_TEXT_MAX


def stored_reason(text: str | None) -> str | None:
    """The reason cut to its column's size, an ellipsis marking the cut."""
    if text is None or len(text) <= ERROR_TEXT_MAX:
        return text
    return text[: ERROR_TEXT_MAX - 1] + "…"
