"""Engagement: the customer clicks the review link, opens the email, or unsubscribes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.domain.channels import PHONE_CHANNELS
from bot.domain.errors import NotFound
from bot.domain.status import Status
from bot.usecases.actors import CUSTOMER, Actor
from bot.usecases.followups import workspace_policy
from bot.usecases.reports import Applied, FeedbackSource, Report, locked
from store.models import Contact, Message, ReviewRequest


class Engagement(FeedbackSource):
    """Record what the customer did with a message's tracked link, pixel and unsubscribe link."""

    def click(self, token: str, *, counted: bool) -> str | None:
        """Record a click on a message's review link (once) and return its landing page.

        :raise NotFound: no message has this token.
        """

        def run(session: Session) -> str | None:
            message = locked(session, select(Message).where(Message.token == token))
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

        return self.guarded_value(run, lambda: self._landing(token))

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
            message = locked(session, select(Message).where(Message.token == token))
            if message is None:
                return False
            if message.channel == "email":
                report = Report(Status.OPENED, CUSTOMER, dedup_key=f"open:{message.id}")
                self.apply(session, message, report, self.clock.now())
            return True

        return self.guarded_value(run, lambda: True)

    def unsubscribe(self, token: str) -> Message:
        """Opt the customer out of the channel this message went by, at once.

        :raise NotFound: no message has this token.
        """

        def run(session: Session) -> Message:
            message = locked(session, select(Message).where(Message.token == token))
            if message is None:
                raise NotFound("No such link.")
            self.unsubscribe_message(
                session, message, "The customer unsubscribed", self.clock.now()
            )
            return message

        return self.guarded_value(run, lambda: self.message_by_token(token))

    def message_by_token(self, token: str) -> Message:
        """Return the message a link token belongs to.

        :raise NotFound: no message has this token.
        """
        with self.db.read() as session:
            message = session.exec(select(Message).where(Message.token == token)).first()
            if message is None:
                raise NotFound("No such link.")
            return message

    def unsubscribe_message(
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
        """Opt the customer out of a message's channel and mark the message so."""
        request = session.get(ReviewRequest, message.request_id)
        assert request is not None
        address = message.to_address or _erased_address(session, request, message.channel)
        if message.channel in PHONE_CHANNELS:
            if address:  # the business that sent the link, not others texting the number
                self.journal.opt_out_phone(
                    session, address, reason, now, workspaces=[message.workspace_id]
                )
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
