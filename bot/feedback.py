"""Use-cases of feedback: apply what providers and customers report back to the messages.

Twilio status callbacks and replies, email provider events, tracked clicks, the open pixel,
unsubscribes and reconciliation all end here. Every report is de-duplicated (Event.dedup_key,
unique), applied monotonically (bot.domain.status.advance), recorded as an event and told to
the team through the Notifier, inside one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import reduce
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.domain.channels import PHONE_CHANNELS, channel_label
from bot.domain.errors import NotAllowed, NotFound
from bot.domain.status import REMINDER_STOPS, Status, advance
from bot.requests import ReviewOps
from bot.usecases.actors import CUSTOMER, RECONCILER, TWILIO, Actor
from bot.usecases.followups import fall_back_to_email, workspace_policy
from bot.usecases.notifier import Change
from store.models import Contact, Event, Message, ReviewRequest

log = logging.getLogger(__name__)

T = TypeVar("T")
WAKE = "reviewops_wake_dispatcher"  # session.info flag: something became due now

# Twilio MessageStatus -> our status; None: an earlier stage that can never move a row on.
TWILIO_STATUSES: dict[str, Status | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": Status.SENDING,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "partially_delivered": Status.DELIVERED,
    "read": Status.READ,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
    "canceled": Status.CANCELED,
}
TWILIO_OPTED_OUT_CODE = "21610"

# Twilio's default opt-out, opt-in and help keywords (matched whole, trimmed, any case).
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
)
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

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


@dataclass(frozen=True)
class InboundAnswer:
    """What an inbound SMS/WhatsApp did, and the text to answer with (TwiML), if any."""

    kind: str  # opted_out, opted_in, help, reply, duplicate, unknown_sender
    reply: str | None = None


def fold(current: Status, reports: Iterable[Status]) -> Status:
    """Return a message's status after reports arrive in this order (pure; the property tested)."""
    return reduce(advance, reports, current)


def twilio_status(value: str) -> Status | None:
    """Map a Twilio MessageStatus to ours; None for early stages and unknown words."""
    return TWILIO_STATUSES.get(value.strip().lower())


def normalize_message_id(value: str | None) -> str:
    """Return a Message-ID without angle brackets or surrounding space (both sides compare so)."""
    return (value or "").strip().removeprefix("<").removesuffix(">").strip()


def bare_phone(address: str) -> str:
    """Return the E.164 number of a Twilio address ("whatsapp:+33..." -> "+33...")."""
    return address.strip().removeprefix("whatsapp:").strip()


def keyword(body: str) -> str:
    """Return an inbound text as a keyword candidate: trimmed, upper case, end punctuation off."""
    return body.strip().rstrip(".!").strip().upper()


class Feedback:
    """The feedback use-cases, bound to the same database, clock and notifier as ReviewOps."""

    def __init__(self, ops: ReviewOps) -> None:
        self.ops = ops
        self.journal = ops.journal
        self.db = ops.db
        self.clock = ops.clock

    # --- Twilio -----------------------------------------------------------------------------

    def twilio_status(
        self,
        *,
        sid: str,
        status: str,
        to: str = "",
        error_code: str | None = None,
        idempotency_token: str | None = None,
    ) -> Applied:
        """Apply one Twilio status callback to the message it is about."""
        from bot.delivery.twilio import twilio_error_reason

        reported = twilio_status(status)
        if not sid or reported is None:
            return Applied.IGNORED
        code = (error_code or "").strip() or None
        if code == TWILIO_OPTED_OUT_CODE and reported in FAILURES:
            reported = Status.UNSUBSCRIBED
        report = Report(
            reported,
            TWILIO,
            # A retry carries the same idempotency token, and always the same sid and status:
            # this key catches retries and Twilio's own repeats alike.
            dedup_key=f"twilio:{sid}:{status.strip().lower()}",
            error_code=code,
            reason=twilio_error_reason(code) if code else None,
            detail={"twilio_status": status, "idempotency_token": idempotency_token},
        )
        return self._guarded(lambda session: self._twilio_status(session, sid, to, report))

    def _twilio_status(self, session: Session, sid: str, to: str, report: Report) -> Applied:
        now = self.clock.now()
        message = _locked(session, select(Message).where(Message.provider_id == sid))
        if message is None:
            message = self._adopt(session, sid, bare_phone(to), now)
        if message is None:
            log.warning("status callback for unknown Twilio message %s", sid)
            return Applied.NOT_FOUND
        result = self.apply(session, message, report, now)
        if result is Applied.APPLIED and report.status is Status.UNSUBSCRIBED:
            self.journal.opt_out_phone(
                session, message.to_address, "The customer replied STOP", now
            )
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

    def inbound(self, *, sid: str, from_: str, to: str, body: str) -> InboundAnswer:
        """Handle a customer's SMS/WhatsApp: opt out, opt in, help, or a reply for the team."""
        phone = bare_phone(from_)
        word = keyword(body)

        def run(session: Session) -> InboundAnswer:
            now = self.clock.now()
            key = f"twilio-in:{sid}"
            if sid and _seen(session, key):
                if word in HELP_WORDS:
                    return InboundAnswer("help", self._help_text(session, phone))
                return InboundAnswer("duplicate")
            if word in STOP_WORDS:
                done = self.journal.opt_out_phone(
                    session, phone, f"The customer replied {word}", now, dedup_key=key, keyword=word
                )
                return InboundAnswer("opted_out" if done else "unknown_sender")
            if word in START_WORDS:
                done = self.journal.opt_in_phone(session, phone, word, now, dedup_key=key)
                return InboundAnswer("opted_in" if done else "unknown_sender")
            if word in HELP_WORDS:
                return InboundAnswer("help", self._help_text(session, phone))
            request = _latest_request_to_phone(session, phone)
            if request is None:
                return InboundAnswer("unknown_sender")
            text = body.strip()
            self.journal.record(
                session,
                request,
                "reply",
                CUSTOMER,
                now,
                detail={"text": text, "from": phone},
                dedup_key=key if sid else None,
            )
            self.journal.notify(
                session, request, Change("reply", f"{request.customer_name} replied: {text}")
            )
            return InboundAnswer("reply")

        return self._guarded_value(run, lambda: InboundAnswer("duplicate"))

    def _help_text(self, session: Session, phone: str) -> str:
        request = _latest_request_to_phone(session, phone)
        policy = workspace_policy(session, request.workspace_id) if request else None
        name = (policy.business_name if policy else "") or "Reviews"
        contact = (policy.email_reply_to or policy.email_from) if policy else ""
        text = f"{name}: we sent you a request for a review."
        if contact:
            text += f" Questions? Write to {contact}."
        return text + " Reply STOP to stop messages, START to receive them again."

    # --- tracked link, pixel, unsubscribe ---------------------------------------------------

    def click(self, token: str, *, counted: bool) -> str | None:
        """Record a click on a message's review link (once) and return its landing page.

        :raise NotFound: no message has this token.
        """

        def run(session: Session) -> str | None:
            message = _locked(session, select(Message).where(Message.token == token))
            if message is None:
                raise NotFound("No such link.")
            request = session.get(ReviewRequest, message.request_id)
            assert request is not None
            policy = workspace_policy(session, request.workspace_id)
            url = policy.landing_url(request.review_type, request.language) or None
            if counted and request.deleted_at is None:
                report = Report(Status.CLICKED, CUSTOMER, dedup_key=f"click:{message.id}")
                self.apply(session, message, report, self.clock.now())
            return url

        return self._guarded_value(run, lambda: self._landing(token))

    def _landing(self, token: str) -> str | None:
        with self.db.read() as session:
            message = session.exec(select(Message).where(Message.token == token)).first()
            if message is None:
                raise NotFound("No such link.")
            request = session.get(ReviewRequest, message.request_id)
            assert request is not None
            policy = workspace_policy(session, request.workspace_id)
            return policy.landing_url(request.review_type, request.language) or None

    def opened(self, token: str) -> bool:
        """Record that an email was opened (the pixel); False when the token is unknown."""

        def run(session: Session) -> bool:
            message = _locked(session, select(Message).where(Message.token == token))
            if message is None:
                return False
            if message.channel == "email":
                report = Report(Status.OPENED, CUSTOMER, dedup_key=f"open:{message.id}")
                self.apply(session, message, report, self.clock.now())
            return True

        return self._guarded_value(run, lambda: True)

    def unsubscribe(self, token: str) -> Message:
        """Opt the customer out of the channel this message went by, at once.

        :raise NotFound: no message has this token.
        """

        def run(session: Session) -> Message:
            message = _locked(session, select(Message).where(Message.token == token))
            if message is None:
                raise NotFound("No such link.")
            self._unsubscribe(session, message, "The customer unsubscribed", self.clock.now())
            return message

        return self._guarded_value(run, lambda: self.message_by_token(token))

    def message_by_token(self, token: str) -> Message:
        """Return the message a link token belongs to.

        :raise NotFound: no message has this token.
        """
        with self.db.read() as session:
            message = session.exec(select(Message).where(Message.token == token)).first()
            if message is None:
                raise NotFound("No such link.")
            return message

    def _unsubscribe(
        self,
        session: Session,
        message: Message,
        reason: str,
        now: datetime,
        *,
        status: Status = Status.UNSUBSCRIBED,
        dedup_key: str | None = None,
        actor: Actor = CUSTOMER,
    ) -> Applied:
        request = session.get(ReviewRequest, message.request_id)
        assert request is not None
        address = message.to_address or _erased_address(session, request, message.channel)
        if message.channel in PHONE_CHANNELS:
            if address:
                self.journal.opt_out_phone(session, address, reason, now)
            return Applied.APPLIED
        self.journal.opt_out_email(
            session,
            message.workspace_id,
            address,
            reason,
            now,
            actor,
            own_contact_id=request.contact_id,
        )
        report = Report(
            status, actor, dedup_key=dedup_key or f"{status.value}:{message.id}", reason=reason
        )
        return self.apply(session, message, report, now)

    # --- email provider events --------------------------------------------------------------

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
            if key and _seen(session, key):
                return Applied.DUPLICATE
            message = _locked(
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
                return self._unsubscribe(
                    session,
                    message,
                    "The customer marked the email as spam",
                    now,
                    status=Status.COMPLAINED,
                    dedup_key=key,
                    actor=actor,
                )
            if name == "unsubscribed":
                return self._unsubscribe(
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

        return self._guarded(run)

    # --- reconciliation and human decisions -------------------------------------------------

    def resolve_unknown(
        self,
        message_id: int,
        *,
        sid: str,
        status: Status,
        error_code: str | None,
        reason: str | None,
    ) -> Applied:
        """Record what the provider says became of a message whose outcome was unknown."""

        def run(session: Session) -> Applied:
            message = _locked(session, select(Message).where(Message.id == message_id))
            if message is None or message.status != Status.UNKNOWN.value:
                return Applied.IGNORED
            message.provider = message.provider or "twilio"
            message.provider_id = message.provider_id or sid
            report = Report(
                status,
                RECONCILER,
                dedup_key=f"reconciled:{message.id}",
                error_code=error_code,
                reason=reason,
                detail={"sid": sid, "found_at_provider": True},
            )
            return self.apply(session, message, report, self.clock.now())

        return self._guarded(run)

    def report_unresolved(self, message_id: int, reason: str) -> Applied:
        """Tell the team, once, that a message's outcome could not be found out."""

        def run(session: Session) -> Applied:
            now = self.clock.now()
            key = f"unresolved:{message_id}"
            if _seen(session, key):
                return Applied.DUPLICATE
            message = session.get(Message, message_id)
            if message is None or message.status != Status.UNKNOWN.value:
                return Applied.IGNORED
            request = session.get(ReviewRequest, message.request_id)
            assert request is not None
            self.journal.record(
                session,
                request,
                "unresolved",
                RECONCILER,
                now,
                message=message,
                detail={"reason": reason, "decision_needed": True},
                dedup_key=key,
            )
            channel = channel_label(message.channel)
            self.journal.notify(
                session,
                request,
                Change(
                    "unresolved",
                    f"Couldn't find out whether the {channel} went out ({reason}). "
                    "Choose *Mark as sent* or *Send again*.",
                    alert=True,
                    decision_needed=True,
                ),
            )
            return Applied.APPLIED

        return self._guarded(run)

    def mark_as_sent(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Record a person's decision that a request's `unknown` message did go out.

        :raise NotFound: there is no such request.
        :raise NotAllowed: it has no message whose outcome is unknown.
        """
        now = self.clock.now()
        with self.db.write() as session:
            request = session.exec(
                select(ReviewRequest).where(
                    ReviewRequest.workspace_id == workspace_id, ReviewRequest.number == number
                )
            ).first()
            if request is None or request.deleted_at is not None:
                raise NotFound(f"There is no request #{number}.")
            unknown = session.exec(
                select(Message)
                .where(Message.request_id == request.id, Message.status == Status.UNKNOWN.value)
                .order_by(col(Message.id))
                .with_for_update()
            ).all()
            if not unknown:
                raise NotAllowed(
                    f"#{number} has no message in doubt, so it can't be marked as sent."
                )
            for message in unknown:
                self.journal.mark_sent(session, message, now)
                self.journal.record(
                    session,
                    request,
                    "marked_sent",
                    actor,
                    now,
                    message=message,
                    detail={"decision": "mark_as_sent"},
                )
            request.sent_at = request.sent_at or now
            self.journal.refresh(session, request, now)
            self.journal.notify(
                session,
                request,
                Change("marked_sent", f"Marked as sent by {actor.label}", actor_id=actor.id),
            )
            return request

    def send_again(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send a request whose outcome is unknown again (the same rules as any resend)."""
        return self.ops.resend(workspace_id, number, actor)

    # --- the one place a report changes a message -------------------------------------------

    def apply(self, session: Session, message: Message, report: Report, now: datetime) -> Applied:
        """Apply a report to a message inside the caller's transaction; tell the team once."""
        if report.dedup_key and _seen(session, report.dedup_key):
            return Applied.DUPLICATE
        request = session.get(ReviewRequest, message.request_id)
        assert request is not None
        before = Status(message.status)
        after = advance(before, report.status)
        changed = after is not before
        stamp = _MESSAGE_STAMPS.get(report.status)
        if stamp and getattr(message, stamp) is None:
            setattr(message, stamp, now)
            changed = True
        failure = report.status in FAILURES
        if failure and report.error_code and not message.error_code:
            changed = True  # a code for a failure we knew without one
        if not changed:
            return Applied.IGNORED
        if failure or after in ALERTS:
            self.journal.advance(
                session, message, report.status, now, error_code=report.error_code,
                reason=report.reason,
            )  # fmt: skip
        else:
            self.journal.advance(session, message, report.status, now)
        request_stamp = _REQUEST_STAMPS.get(report.status)
        if request_stamp and getattr(request, request_stamp) is None:
            setattr(request, request_stamp, now)
        if failure and after is report.status:
            request.last_error = report.reason or request.last_error
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
        alert = after is report.status and report.status in ALERTS
        self.journal.notify(
            session,
            request,
            Change(report.status.value, _change_text(request, message, report), alert=alert),
        )
        if report.status in REMINDER_STOPS:
            self.journal.cancel_reminders(session, request, now, report.status)
        if failure and after is report.status:
            if fall_back_to_email(self.journal, session, request, message, now) is not None:
                session.info[WAKE] = True  # the fallback email is due now
        return Applied.APPLIED

    def _guarded(self, run: Callable[[Session], Applied]) -> Applied:
        """Run a write; a unique-key race with another worker means a duplicate."""
        return self._guarded_value(run, lambda: Applied.DUPLICATE)

    def _guarded_value(self, run: Callable[[Session], T], on_duplicate: Callable[[], T]) -> T:
        try:
            with self.db.write() as session:
                result = run(session)
        except IntegrityError:
            # The same report applied at the same moment by another worker: the index won.
            return on_duplicate()
        if session.info.pop(WAKE, False):
            self.ops.wake()
        return result


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


def _erased_address(session: Session, request: ReviewRequest, channel: str) -> str:
    """Return the contact's address for a deleted request's channel ("" when there is none).

    Deleting a request erases the addresses of its messages; an opt-out from one of its old
    messages must still count, so it goes to the contact the request belonged to.
    """
    if request.deleted_at is None or request.contact_id is None:
        return ""
    contact = session.get(Contact, request.contact_id)
    if contact is None:
        return ""
    return (contact.phone if channel in PHONE_CHANNELS else contact.email) or ""


def _seen(session: Session, key: str) -> bool:
    return session.exec(select(Event.id).where(Event.dedup_key == key)).first() is not None


def _locked(session: Session, query: Any) -> Message | None:
    # PostgreSQL: one report per message at a time; SQLite's write lock already serialises.
    result: Message | None = session.exec(query.with_for_update()).first()
    return result


def _latest_request_to_phone(session: Session, phone: str) -> ReviewRequest | None:
    return session.exec(
        select(ReviewRequest)
        .where(ReviewRequest.phone == phone, col(ReviewRequest.deleted_at).is_(None))
        .order_by(col(ReviewRequest.created_at).desc(), col(ReviewRequest.id).desc())
        .limit(1)
    ).first()
