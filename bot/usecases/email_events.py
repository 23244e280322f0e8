"""Email provider events: delivered, opened, clicked, failed, complained, unsubscribed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot.domain.status import Status
from bot.usecases.actors import Actor
from bot.usecases.engagement import Engagement
from bot.usecases.reports import Applied, FeedbackSource, Report, locked, seen
from store.models import Message, ReviewRequest

if TYPE_CHECKING:
    from bot.requests import ReviewOps


def normalize_message_id(value: str | None) -> str:
    """Return a Message-ID without angle brackets or surrounding space (both sides compare so)."""
    return (value or "").strip().removeprefix("<").removesuffix(">").strip()


class EmailEvents(FeedbackSource):
    """Apply what the email provider reports about the messages it was handed."""

    def __init__(self, ops: ReviewOps, engagement: Engagement) -> None:
        super().__init__(ops)
        self.engagement = engagement

    def email_event(
        self,
        *,
        provider: str,
        message_id: str,
        event: str,
        event_id: str,
        severity: str | None = None,
        code: str | None = None,
        reason: str | None = None,
    ) -> Applied:
        """Apply one email provider event (Mailgun's names) to the message with this Message-ID."""
        actor = Actor(provider, provider.capitalize())
        key = f"{provider}:{event_id}" if event_id else None
        wanted = normalize_message_id(message_id)
        if not wanted:
            return Applied.NOT_FOUND

        def run(session: Session) -> Applied:
            now = self.clock.now()
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
            request = session.get(ReviewRequest, message.request_id)
            assert request is not None
            name = event.strip().lower()
            if name == "failed" and (severity or "").lower() == "temporary":
                # The provider retries by itself: worth a line in the log, not a status.
                self.journal.record(
                    session,
                    request,
                    "delivery_delayed",
                    actor,
                    now,
                    message=message,
                    detail={"code": code, "reason": reason},
                    dedup_key=key,
                )
                return Applied.APPLIED
            if name == "complained":
                return self.engagement.unsubscribe_message(
                    session,
                    message,
                    "The customer marked the email as spam",
                    now,
                    status=Status.COMPLAINED,
                    dedup_key=key,
                    actor=actor,
                )
            if name == "unsubscribed":
                return self.engagement.unsubscribe_message(
                    session,
                    message,
                    "The customer unsubscribed",
                    now,
                    dedup_key=key,
                    actor=actor,
                )
            status = {
                "delivered": Status.DELIVERED,
                "opened": Status.OPENED,
                "clicked": Status.CLICKED,
                "failed": Status.FAILED,
            }.get(name)
            if status is None:
                return Applied.IGNORED
            report = Report(
                status,
                actor,
                dedup_key=key,
                error_code=code if status is Status.FAILED else None,
                reason=(reason or "The email bounced") if status is Status.FAILED else None,
            )
            return self.apply(session, message, report, now)

        return self.guarded(run)
