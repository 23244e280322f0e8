"""The feedback facade: one object for the webhook routes, reconciliation and Slack decisions.

Each source has its own module; this only routes to them. Twilio's words (status, STOP...) are
translated by bot.delivery.twilio_reports before they reach a use-case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.delivery import mailgun_reports, twilio_reports
from bot.domain.status import Status
from bot.usecases.actors import Actor
from bot.usecases.email_events import EmailEvents
from bot.usecases.engagement import Engagement
from bot.usecases.inbound import InboundAnswer, InboundReplies, reply_senders
from bot.usecases.provider_status import ProviderStatus
from bot.usecases.reports import Applied
from bot.usecases.unknown_outcomes import UnknownOutcomes
from store.models import Message, ReviewRequest

if TYPE_CHECKING:
    from bot.usecases.review_ops import ReviewOps


class Feedback:
    """The feedback use-cases, bound to the same database, clock and journal as ReviewOps."""

    def __init__(self, ops: ReviewOps) -> None:
        self.ops = ops
        self.db = ops.db
        self.clock = ops.clock
        self.provider_status = ProviderStatus(ops)
        self.inbound_replies = InboundReplies(ops)
        self.engagement = Engagement(ops)
        self.email_events = EmailEvents(ops, self.engagement)
        self.unknown_outcomes = UnknownOutcomes(ops)

    def twilio_status(
        self,
        *,
        sid: str,
        status: str,
        to: str = "",
        error_code: str | None = None,
        idempotency_token: str | None = None,
    ) -> Applied:
        """Apply one Twilio status callback (Twilio's words) to the message it is about."""
        delivery = twilio_reports.status_report(status, error_code)
        if delivery is None:
            return Applied.IGNORED
        phone = twilio_reports.bare_phone(to)
        return self.provider_status.report(
            sid=sid, to=phone, delivery=delivery, idempotency_token=idempotency_token
        )

    def inbound(
        self, *, sid: str, from_: str, to: str, body: str, service: str | None = None
    ) -> InboundAnswer:
        """Handle a customer's SMS/WhatsApp (Twilio's words): opt out, opt in, help or a reply.

        `to` is our number it came to and `service` its messaging service, if any: they name
        the sender whose workspaces the text belongs to.
        """
        phone = twilio_reports.bare_phone(from_)
        text = twilio_reports.inbound_text(body)
        senders = reply_senders(to, service)
        return self.inbound_replies.receive(sid=sid, phone=phone, text=text, senders=senders)

    def click(self, token: str, *, counted: bool) -> str | None:
        """Record a click on a review link (once) and return its landing page.

        :raise NotFound: no message has this token.
        """
        return self.engagement.click(token, counted=counted)

    def opened(self, token: str) -> bool:
        """Record that an email was opened (the pixel); False when the token is unknown."""
        return self.engagement.opened(token)

    def unsubscribe(self, token: str) -> Message:
        """Opt the customer out of the channel this message went by.

        :raise NotFound: no message has this token.
        """
        return self.engagement.unsubscribe(token)

    def message_by_token(self, token: str) -> Message:
        """Return the message a link token belongs to.

        :raise NotFound: no message has this token.
        """
        return self.engagement.message_by_token(token)

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
        email = mailgun_reports.email_report(event, severity, code, reason)
        return self.email_events.report(
            provider=provider, message_id=message_id, event_id=event_id, email=email
        )

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
        return self.unknown_outcomes.resolve_unknown(
            message_id, sid=sid, status=status, error_code=error_code, reason=reason
        )

    def report_unresolved(self, message_id: int, reason: str) -> Applied:
        """Tell the team, once, that a message's outcome could not be found out."""
        return self.unknown_outcomes.report_unresolved(message_id, reason)

    def mark_as_sent(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Record a person's decision that a request's `unknown` message did go out.

        :raise NotFound: there is no such request.
        :raise NotAllowed: it has no message whose outcome is unknown.
        """
        return self.unknown_outcomes.mark_as_sent(workspace_id, number, actor)

    def send_again(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send a request whose outcome is unknown again (the same rules as any resend)."""
        return self.unknown_outcomes.send_again(workspace_id, number, actor)
