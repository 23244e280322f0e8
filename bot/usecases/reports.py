"""The one place a report changes a message: de-duplicated, monotonic, recorded and told once.

Every feedback use-case (provider status, inbound replies, engagement, email provider events,
unknown outcomes) turns what it learns into a `Report` and applies it here, inside one
transaction, through the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import reduce
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.domain.channels import channel_label
from bot.domain.status import REMINDER_STOPS, Status, advance
from bot.usecases.actors import RECONCILER, Actor
from bot.usecases.followups import fall_back_to_email
from bot.usecases.notifier import Change
from bot.usecases.reasons import stored_reason
from store.models import Event, Message, ReviewRequest

if TYPE_CHECKING:
    from bot.usecases.review_ops import ReviewOps

T = TypeVar("T")
WAKE = "reviewops_wake_dispatcher"  # session.info flag: something became due now

# The evidence a report is of a moment; it is kept even when the status cannot move.
_MESSAGE_STAMPS: dict[Status, str] = {
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.READ: "read_at",
    Status.OPENED: "opened_at",
    Status.CLICKED: "clicked_at",
    Status.UNDELIVERED: "failed_at",
    Status.FAILED: "failed_at",
}
_REQUEST_STAMPS: dict[Status, str] = {
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.READ: "delivered_at",
    Status.OPENED: "opened_at",
    Status.CLICKED: "clicked_at",
}
FAILURES = frozenset({Status.FAILED, Status.UNDELIVERED})
ALERTS = frozenset({Status.FAILED, Status.UNDELIVERED, Status.COMPLAINED, Status.UNSUBSCRIBED})


class Applied(StrEnum):
    APPLIED = "applied"  # something changed: an event was written and the team told
    DUPLICATE = "duplicate"  # this report was seen before
    IGNORED = "ignored"  # nothing to change (a late or lower-ranked report)
    NOT_FOUND = "not_found"  # no message matches it


@dataclass(frozen=True)
class Report:
    """One piece of evidence about one message."""

    status: Status
    actor: Actor
    dedup_key: str | None = None
    error_code: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # False where another rule tells the managers itself (an opt-out raises its own alert).
    alerts: bool = True


def fold(current: Status, reports: Iterable[Status]) -> Status:
    """Return a message's status after reports arrive in this order (pure; the property tested)."""
    return reduce(advance, reports, current)


class FeedbackSource:
    """What every feedback use-case shares: the journal, the database, the clock, `apply`."""

    def __init__(self, ops: ReviewOps) -> None:
        self.ops = ops
        self.journal = ops.journal
        self.db = ops.db
        self.clock = ops.clock

    def apply(self, session: Session, message: Message, report: Report, now: datetime) -> Applied:
        """Apply a report to a message inside the caller's transaction; tell the team once."""
        if report.dedup_key and seen(session, report.dedup_key):
            return Applied.DUPLICATE
        request = session.get(ReviewRequest, message.request_id)
        assert request is not None
        before = Status(message.status)
        after = advance(before, report.status)
        stamped = _stamp(message, _MESSAGE_STAMPS.get(report.status), now)
        failure = report.status in FAILURES
        # A code for a failure we knew without one is news too.
        new_code = failure and bool(report.error_code) and not message.error_code
        if after is before and not stamped and not new_code:
            return Applied.IGNORED
        keeps_error = failure or after in ALERTS
        self.journal.advance(
            session,
            message,
            report.status,
            now,
            error_code=report.error_code if keeps_error else None,
            reason=report.reason if keeps_error else None,
        )
        _stamp(request, _REQUEST_STAMPS.get(report.status), now)
        if failure and after is report.status:
            request.last_error = stored_reason(report.reason) or request.last_error
        self.journal.refresh(session, request, now)
        detail = {
            "from": before.value,
            "to": after.value,
            "code": report.error_code,
            "reason": report.reason,
            **report.detail,
        }
        self.journal.record(
            session,
            request,
            report.status.value,
            report.actor,
            now,
            message=message,
            detail={k: v for k, v in detail.items() if v is not None},
            dedup_key=report.dedup_key,
        )
        # One alert that a message did not reach the customer, whichever failure came first.
        alert = report.alerts and after is report.status and report.status in ALERTS
        alert = alert and not (failure and before in FAILURES)
        text = _change_text(request, message, report)
        change = Change(report.status.value, text, alert=alert, message_id=message.id)
        self.journal.notify(session, request, change)
        if report.status in REMINDER_STOPS:
            self.journal.cancel_reminders(session, request, now, report.status)
        if failure and after is report.status:
            if fall_back_to_email(self.journal, session, request, message, now) is not None:
                session.info[WAKE] = True  # the fallback email is due now
        return Applied.APPLIED

    def guarded(self, run: Callable[[Session], Applied]) -> Applied:
        """Run a write; a unique-key race with another worker means a duplicate."""
        return self.guarded_value(run, lambda: Applied.DUPLICATE)

    def guarded_value(self, run: Callable[[Session], T], on_duplicate: Callable[[], T]) -> T:
        try:
            with self.db.write() as session:
                result = run(session)
        except IntegrityError:
            # The same report applied at the same moment by another worker: the index won.
            return on_duplicate()
        if session.info.pop(WAKE, False):
            self.ops.wake()
        return result


def _stamp(row: Message | ReviewRequest, field_name: str | None, now: datetime) -> bool:
    """Set the moment a report is evidence of, if it was not known; say whether it was new."""
    if field_name is None or getattr(row, field_name) is not None:
        return False
    setattr(row, field_name, now)
    return True


def _change_text(request: ReviewRequest, message: Message, report: Report) -> str:
    channel = channel_label(message.channel)
    name = request.customer_name
    status = report.status
    if status in FAILURES:
        code = f" (error {report.error_code})" if report.error_code else ""
        return f"{channel} {status.value}: {report.reason or 'no reason given'}{code}"
    if status is Status.OPENED:
        return "Email opened (may include mail privacy prefetch)"
    if status is Status.CLICKED:
        return f"{name} clicked the review link"
    if status is Status.COMPLAINED:
        return f"{name} marked the email as spam: no more email will be sent to them"
    if status is Status.UNSUBSCRIBED:
        return f"{name} unsubscribed from {channel}"
    if report.actor is RECONCILER:
        return f"Found at the provider: the {channel} went out ({status.value})"
    return f"{channel} {status.value}"


def seen(session: Session, key: str) -> bool:
    return session.exec(select(Event.id).where(Event.dedup_key == key)).first() is not None


def locked(session: Session, query: Any) -> Message | None:
    # PostgreSQL: one report per message at a time; SQLite's write lock already serialises.
    result: Message | None = session.exec(query.with_for_update()).first()
    return result
