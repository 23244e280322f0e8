"""How a row of an outbox (Slack posts, outbound events) is settled: one rule for both queues.

A settled row is done, or given up with its reason; it is never leased again.
"""

from __future__ import annotations

from datetime import datetime

from store.integration_models import EventOutbox
from store.models import ERROR_TEXT_MAX, SlackOutbox


def settle(
    row: SlackOutbox | EventOutbox, status: str, now: datetime, error: str | None = None
) -> None:
    """Mark a row done or given up (`status`), its reason cut to the column."""
    row.status = status
    row.done_at = now
    row.next_attempt_at = now
    if error is not None:
        row.last_error = error[:ERROR_TEXT_MAX]
