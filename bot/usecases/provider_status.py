"""Provider status: what the SMS/WhatsApp provider says became of a message it was handed."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, col, select

from bot.domain.channels import PHONE_CHANNELS
from bot.domain.reports import DeliveryReport
from bot.domain.status import Status
from bot.usecases import waiting
from bot.usecases.actors import TWILIO
from bot.usecases.reports import Applied, FeedbackSource, Report, locked
from store.models import Message

log = logging.getLogger(__name__)


class ProviderStatus(FeedbackSource):
    """Apply Twilio's status reports to the messages they are about."""

    def report(
        self, *, sid: str, to: str, delivery: DeliveryReport, idempotency_token: str | None = None
    ) -> Applied:
        """Apply one status report (sid, recipient, status in our words) to its message."""
        if not sid:
            return Applied.IGNORED
        report = Report(
            delivery.status,
            TWILIO,
            # A retry carries the same idempotency token, and always the same sid and status:
            # this key catches retries and Twilio's own repeats alike.
            dedup_key=f"twilio:{sid}:{delivery.provider_word.strip().lower()}",
            error_code=delivery.error_code,
            reason=delivery.reason,
            detail={
                "twilio_status": delivery.provider_word,
                "idempotency_token": idempotency_token,
            },
            alerts=not delivery.recipient_opted_out,  # the opt-out rule alerts once
        )
        opted_out = delivery.recipient_opted_out
        return self.guarded(lambda session: self._apply(session, sid, to, report, opted_out))

    def _apply(
        self, session: Session, sid: str, to: str, report: Report, opted_out: bool
    ) -> Applied:
        now = self.clock.now()
        message = locked(session, select(Message).where(Message.provider_id == sid))
        if message is None:
            message = self._adopt(session, sid, to, now)
        if message is None:
            log.warning("status callback for unknown Twilio message %s", sid)
            return Applied.NOT_FOUND
        result = self.apply(session, message, report, now)
        if result is Applied.APPLIED and opted_out:
            reason = "The customer replied STOP"
            scope = waiting.sender_scope(session, message)
            self.journal.opt_out_phone(session, message.to_address, reason, now, workspaces=scope)
        return result

    def _adopt(self, session: Session, sid: str, to: str, now: datetime) -> Message | None:
        # A callback for a send whose answer was lost: the one in-doubt row to that number is it.
        if not to:
            return None
        candidates = session.exec(
            select(Message).where(
                col(Message.to_address) == to,
                col(Message.channel).in_(PHONE_CHANNELS),
                col(Message.status).in_([Status.SENDING.value, Status.UNKNOWN.value]),
                col(Message.provider_id).is_(None),
            )
        ).all()
        if len(candidates) != 1:
            return None
        message = candidates[0]
        message.provider = "twilio"
        message.provider_id = sid
        session.add(message)
        return message
