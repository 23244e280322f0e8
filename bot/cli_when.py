"""What `reviewops send` says after creating a request: each message's state and, for one that
waits, when it goes (in the workspace's timezone) and why: the time asked, the send window, a
holiday, the recipient's hours, or its sender's pace. The reasons are the domain's
(`bot/domain/send_time.py::why_later`, `bot/domain/pacing.py::PacedWait`)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from bot.domain.channels import PHONE_CHANNELS, channel_label
from bot.domain.send_time import why_later
from bot.domain.status import Status
from bot.domain.timing import format_day_time
from bot.usecases.history import Message
from bot.usecases.inputs import RequestDetail


def say_when(detail: RequestDetail, *, asked: datetime, asked_words: str, now: datetime) -> None:
    """Print one line per message: "#12 queued: goes Thu 3 Dec 09:00 (Europe/Paris) — why"."""
    number = detail.request.number
    several = len(detail.messages) > 1
    for m in detail.messages:
        who = f"#{number} {channel_label(m.channel)}" if several else f"#{number}"
        typer.echo(f"{who} {_state(m, detail, asked=asked, asked_words=asked_words, now=now)}")


def _state(
    m: Message, detail: RequestDetail, *, asked: datetime, asked_words: str, now: datetime
) -> str:
    """Say a message's state; for a queued one, when it goes and why then."""
    tz = detail.policy.timezone
    if m.status == Status.FAILED.value:
        return f"failed: {' '.join(x for x in (m.error_code, m.error_reason) if x)}".rstrip(": ")
    if m.status != Status.QUEUED.value:
        return m.status
    paced = detail.paced.get(m.id or 0)
    if paced is not None:
        return f"queued: {paced.sentence(format_day_time(paced.expected_at, tz, now=now))}"
    due = m.due_at if m.due_at.tzinfo else m.due_at.replace(tzinfo=UTC)
    if due <= now:
        return "queued: due now; a running `reviewops worker` (or `serve`) sends it"
    phone = m.to_address if m.channel in PHONE_CHANNELS else None
    reasons = why_later(asked, detail.policy, m.channel, phone) or [asked_words]
    return f"queued: goes {format_day_time(due, tz, now=now)} — {'; '.join(reasons)}"
