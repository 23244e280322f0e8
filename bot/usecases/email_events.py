"""Email provider events: delivered, opened, clicked, failed, complained, unsubscribed.

The provider's own names are translated by its adapter (bot.delivery.mailgun_reports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot.domain.reports import EmailReport
from bot.domain.status import Status
from bot.usecases.actors import Actor
from bot.usecases.engagement import Engagement
from bot.usecases.reports import Applied, FeedbackSource, Report, locked, seen
from store.models import Message, ReviewRequest

if TYPE_CHECKING:
    from bot.usecases.review_ops import ReviewOps


def normalize_message_id(value: str | None) -> str:
    """Return a Message-ID without angle brackets or surrounding space (both sides compare so)."""
    return (value or "").strip().removeprefix("<").removesuffix(">").strip()


# What an email opt-out is called in the request's log.
_OPT_OUT_REASONS = {
    Status.COMPLAINED: "The customer marked the email as spam",
    Status.UNSUBSCRIBED: "The customer unsubscribed",
}


class EmailEvents(FeedbackSource):
    """Apply what the email provider reports about the messages it was handed."""

    def __init__(self, ops: ReviewOps, engagement: Engagement) -> None:
        super().__init__(ops)
        self.engagement = engagement

    def report(
        self, *, provider: str, message_id: str, event_id: str, email: EmailReport
    ) -> Applied:
        """Apply one email provider report to the message with this Message-ID."""
        actor = Actor(provider, provider.capitalize())
        key = f"{provider}:{event_id}" if event_id else None
        wanted = normalize_message_id(message_id)
        if not wanted:
            return Applied.NOT_FOUND

        def run(session: Session) -> Applied:
            if key and seen(session, key):
                return Applied.DUPLICATE
            message = locked(
                session,
                select(Message).where(
                    col(Message.channel) == "email",
                    col(Message.provider_id).in_([wanted, f"<{wanted}>"]),
                ),
            )
            if message is None:
                return Applied.NOT_FOUND
            return self._apply(session, message, email, actor, key)

        return self.guarded(run)

    def _apply(
        self, session: Session, message: Message, email: EmailReport, actor: Actor, key: str | None
    ) -> Applied:
        now = self.clock.now()
        if email.delayed:
            # The provider retries by itself: worth a line in the log, not a status.
            request = session.get(ReviewRequest, message.request_id)
            assert request is not None
            detail = {"code": email.code, "reason": email.reason}
            self.journal.record(
                session,
                request,
                "delivery_delayed",
                actor,
                now,
                message=message,
                detail=detail,
                dedup_key=key,
            )
            return Applied.APPLIED
        if email.status in _OPT_OUT_REASONS:
            reason = _OPT_OUT_REASONS[email.status]
            return self.engagement.unsubscribe_message(
                session, message, reason, now, status=email.status, dedup_key=key, actor=actor
            )
        if email.status is None:
            return Applied.IGNORED
        failed = email.status is Status.FAILED
        report = Report(
            email.status,
            actor,
            dedup_key=key,
            error_code=email.code if failed else None,
            reason=(email.reason or "The email bounced") if failed else None,
        )
        return self.apply(session, message, report, now)
