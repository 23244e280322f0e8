"""Inbound replies: a customer's SMS/WhatsApp to our number (opt out, opt in, help, a reply)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.domain.reports import InboundText, Intent
from bot.usecases.actors import CUSTOMER
from bot.usecases.followups import workspace_policy
from bot.usecases.notifier import Change
from bot.usecases.reports import FeedbackSource, seen
from store.models import ReviewRequest


@dataclass(frozen=True)
class InboundAnswer:
    """What an inbound SMS/WhatsApp did, and the text to answer with (TwiML), if any."""

    kind: str  # opted_out, opted_in, help, reply, duplicate, unknown_sender
    reply: str | None = None


class InboundReplies(FeedbackSource):
    """Act on what customers text back."""

    def receive(self, *, sid: str, phone: str, text: InboundText) -> InboundAnswer:
        """Handle a customer's text: opt out, opt in, help, or a reply for the team."""
        word = text.keyword

        def run(session: Session) -> InboundAnswer:
            now = self.clock.now()
            key = f"twilio-in:{sid}"
            if sid and seen(session, key):
                if text.intent is Intent.HELP:
                    return InboundAnswer("help", self._help_text(session, phone))
                return InboundAnswer("duplicate")
            if text.intent is Intent.OPT_OUT:
                reason = f"The customer replied {word}"
                done = self.journal.opt_out_phone(
                    session, phone, reason, now, dedup_key=key, keyword=word
                )
                return InboundAnswer("opted_out" if done else "unknown_sender")
            if text.intent is Intent.OPT_IN:
                done = self.journal.opt_in_phone(session, phone, word, now, dedup_key=key)
                return InboundAnswer("opted_in" if done else "unknown_sender")
            if text.intent is Intent.HELP:
                return InboundAnswer("help", self._help_text(session, phone))
            request = _latest_request_to_phone(session, phone)
            if request is None:
                return InboundAnswer("unknown_sender")
            self.journal.record(
                session,
                request,
                "reply",
                CUSTOMER,
                now,
                detail={"text": text.text, "from": phone},
                dedup_key=key if sid else None,
            )
            said = f"{request.customer_name} replied: {text.text}"
            self.journal.notify(session, request, Change("reply", said, quote=text.text))
            return InboundAnswer("reply")

        return self.guarded_value(run, lambda: InboundAnswer("duplicate"))

    def _help_text(self, session: Session, phone: str) -> str:
        request = _latest_request_to_phone(session, phone)
        policy = workspace_policy(session, request.workspace_id) if request else None
        name = (policy.business_name if policy else "") or "Reviews"
        contact = (policy.email_reply_to or policy.email_from) if policy else ""
        text = f"{name}: we sent you a request for a review."
        if contact:
            text += f" Questions? Write to {contact}."
        return text + " Reply STOP to stop messages, START to receive them again."


def _latest_request_to_phone(session: Session, phone: str) -> ReviewRequest | None:
    return session.exec(
        select(ReviewRequest)
        .where(ReviewRequest.phone == phone, col(ReviewRequest.deleted_at).is_(None))
        .order_by(col(ReviewRequest.created_at).desc(), col(ReviewRequest.id).desc())
        .limit(1)
    ).first()
