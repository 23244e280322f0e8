"""Email provider events: delivered, opened, clicked, failed, complained, unsubscribed."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from sqlmodel import Session, col, select

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


# Mailgun's event names in our words.
_STATUSES = {
    "delivered": Status.DELIVERED,
    "opened": Status.OPENED,
    "clicked": Status.CLICKED,
    "failed": Status.FAILED,
}
_OPT_OUTS = {
    "complained": (Status.COMPLAINED, "The customer marked the email as spam"),
    "unsubscribed": (Status.UNSUBSCRIBED, "The customer unsubscribed"),
}


class _Said(NamedTuple):
    event: str
    severity: str
    code: str | None
    reason: str | None


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
            said = _Said(event.strip().lower(), (severity or "").lower(), code, reason)
            return self._apply(session, message, said, actor, key)

        return self.guarded(run)

    def _apply(
        self, session: Session, message: Message, said: _Said, actor: Actor, key: str | None
    ) -> Applied:
        now = self.clock.now()
        if said.event == "failed" and said.severity == "temporary":
            # The provider retries by itself: worth a line in the log, not a status.
            request = session.get(ReviewRequest, message.request_id)
            assert request is not None
            detail = {"code": said.code, "reason": said.reason}
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
        if said.event in _OPT_OUTS:
            opted, reason = _OPT_OUTS[said.event]
            return self.engagement.unsubscribe_message(
                session, message, reason, now, status=opted, dedup_key=key, actor=actor
            )
        status = _STATUSES.get(said.event)
        if status is None:
            return Applied.IGNORED
        failed = status is Status.FAILED
        report = Report(
            status,
            actor,
            dedup_key=key,
            error_code=said.code if failed else None,
            reason=(said.reason or "The email bounced") if failed else None,
        )
        return self.apply(session, message, report, now)
