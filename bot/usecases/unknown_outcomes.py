"""Unknown outcomes: what reconciliation found, and the team's decisions on what it could not.

Deciding about a message whose outcome is unknown ("Mark as sent", "Send again", or a resend
of it from anywhere) can text the customer twice, so `require_decider` keeps it to the
workspace's admins and the request's sender; it is checked when the decision is taken.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.domain.channels import channel_label
from bot.domain.errors import NotAllowed, NotFound
from bot.domain.status import Status
from bot.usecases.actors import RECONCILER, Actor
from bot.usecases.audit import record_audit
from bot.usecases.notifier import Change
from bot.usecases.reports import Applied, FeedbackSource, Report, locked, seen
from store.models import Message, ReviewRequest


def require_decider(request: ReviewRequest, actor: Actor) -> None:
    """Refuse a decision about a message in doubt by anyone but an admin or the request's sender.

    :raise NotAllowed: the actor neither administers the workspace nor sent the request.
    """
    if actor.admin or (actor.id and actor.id == request.created_by):
        return
    # Plain words, not a Slack mention: refusals are shown escaped on every surface.
    sender = f" ({request.created_by_name})" if request.created_by_name else ""
    raise NotAllowed(
        f"Only an admin or the person who sent #{request.number}{sender} can decide what "
        "became of its message in doubt: sending it again or marking it sent could text "
        "the customer twice."
    )


class UnknownOutcomes(FeedbackSource):
    """Resolve messages whose outcome is `unknown`: by the provider's answer or a person's."""

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
            message = locked(session, select(Message).where(Message.id == message_id))
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

        return self.guarded(run)

    def report_unresolved(self, message_id: int, reason: str) -> Applied:
        """Tell the team, once, that a message's outcome could not be found out."""

        def run(session: Session) -> Applied:
            now = self.clock.now()
            key = f"unresolved:{message_id}"
            if seen(session, key):
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

        return self.guarded(run)

    def mark_as_sent(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Record a person's decision that a request's `unknown` message did go out.

        :raise NotFound: there is no such request.
        :raise NotAllowed: it has no message whose outcome is unknown, or the actor may not
            decide (see `require_decider`).
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
            require_decider(request, actor)
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
            record_audit(session, workspace_id, actor, "mark_sent", now, target=f"#{number}")
            self.journal.refresh(session, request, now)
            self.journal.notify(
                session,
                request,
                Change("marked_sent", f"Marked as sent by {actor.label}", actor_id=actor.id),
            )
            return request

    def send_again(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send a request whose outcome is unknown again (the same rules as any resend).

        The resend itself checks `require_decider`, whichever surface asks for it.
        """
        return self.ops.resend(workspace_id, number, actor)
