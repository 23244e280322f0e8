"""What the dispatcher stores once a provider answered: sent, back in the queue, failed, unknown.

One write transaction records a batch of finished sends (those that finished while the previous
batch was being recorded), each in its own SAVEPOINT: one send's record that fails is logged and
undone alone, and its row stays `sending` until the reaper makes it `unknown`, as when a record
is lost. A crash before the commit leaves every row of the batch `sending`: never sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from sqlmodel import Session

from bot.delivery.base import Outcome, SendResult
from bot.domain.channels import PHONE_CHANNELS, channel_in_sentence
from bot.domain.status import Status
from bot.usecases import send_sql as sql
from bot.usecases import waiting
from bot.usecases.actors import SYSTEM, Actor
from bot.usecases.batches import all_or_each
from bot.usecases.event_log import Recorded
from bot.usecases.followups import fall_back_to_email, schedule_reminder
from bot.usecases.in_doubt import InDoubt, mark_unknown
from bot.usecases.journal import Journal
from bot.usecases.notifier import Change
from bot.usecases.reasons import stored_reason
from store.models import Message, ReviewRequest, Workspace

if TYPE_CHECKING:
    from bot.usecases.dispatcher import Claim
    from bot.usecases.pacing import Pacing

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(hours=1)
_SENT_KIND = {
    "reminder": "Reminder sent",
    "fallback": "Fallback email sent",
    "resend": "Sent again",
}


class Finished(NamedTuple):
    """A send handed to its provider, and what the provider said."""

    claim: Claim
    result: SendResult


Held = tuple[Message, ReviewRequest, Workspace]


class Recording:
    """Store providers' answers through the journal, in the caller's write transaction."""

    def __init__(self, journal: Journal, pacing: Pacing | None) -> None:
        self.journal = journal
        self.pacing = pacing

    def record_all(
        self, session: Session, batch: Sequence[Finished], now: datetime
    ) -> list[Recorded | None]:
        """Record each finished send; one that fails is logged and left `sending` (None), and
        the reaper makes it `unknown`: never sent again.

        First all together: their rows read (and locked) in one query and written in one
        flush; if that fails, each in its own SAVEPOINT, so only the one that fails is lost.
        """

        def together(items: Sequence[Finished]) -> list[Recorded | None]:
            held = self._held(session, items)
            # Each record refreshes its request's status: their messages read in one query;
            # and writes events: inserted in one statement at the end.
            requests = {r.id or 0 for _, r, _ in held.values()}
            with (
                self.journal.statuses_read_ahead(session, requests),
                self.journal.events_together(session),
            ):
                return [self.record(session, f, held.get(f.claim.message_id), now) for f in items]

        def alone(finished: Finished) -> Recorded | None:
            return self.record(session, finished, self._held_one(session, finished), now)

        return all_or_each(session, batch, together, alone, _result_of)

    @staticmethod
    def _held_one(session: Session, finished: Finished) -> Held | None:
        params = {"message_id": finished.claim.message_id, "token": finished.claim.token}
        return session.exec(sql.SENT_BY_ME, params=params).first()

    @staticmethod
    def _held(session: Session, batch: Sequence[Finished]) -> dict[int, Held]:
        """Read and lock the batch's rows still claimed under their tokens, by message id."""
        tokens = {f.claim.message_id: f.claim.token for f in batch}
        rows = session.exec(sql.SENT_BY_ME_ALL, params={"message_ids": list(tokens)}).all()
        return {
            m.id: (m, r, w)
            for m, r, w in rows
            if m.id is not None and m.claim_token == tokens[m.id]
        }

    def record(
        self, session: Session, finished: Finished, found: Held | None, now: datetime
    ) -> Recorded | None:
        """Store what the provider said about a message this worker handed over (`found`: its
        row, request and workspace, held under its claim; None if the claim was lost)."""
        claim, result = finished
        if found is None:
            log.error("message %s lost its claim before its result was stored", claim.message_id)
            return None
        # The workspace comes along so the follow-ups' policy read is served by the session.
        message, request, workspace = found
        actor = Actor(result.provider, result.provider)
        message.provider = result.provider
        message.provider_id = message.provider_id or result.provider_id
        message.updated_at = now
        channel = channel_in_sentence(message.channel)
        if result.outcome is Outcome.SENT:
            self._record_sent(session, message, request, result, now, actor, channel)
        elif result.outcome is Outcome.RETRY and message.status == Status.SENDING.value:
            self._record_retry(session, message, request, result, now, actor)
        elif result.outcome is Outcome.UNKNOWN:
            said = (
                f"The {channel} may or may not have gone out ({result.reason or 'no answer'}); "
                "it will not be sent again automatically."
            )
            why = InDoubt(result.reason, result.reason, said)
            mark_unknown(self.journal, session, message, request, why, actor, now)
        elif result.outcome in (Outcome.FAILED, Outcome.OPTED_OUT):
            self.record_failure(session, message, request, result, now, actor, channel)
        else:
            # A retry for a row the reaper already gave up on: keep it `unknown`.
            log.warning("message %s: late %s ignored", message.id, result.outcome)
        return Recorded(request.number, workspace.team_id, message.status)

    def give_up(
        self, session: Session, message: Message, request: ReviewRequest, why: str, now: datetime
    ) -> None:
        """A message that cannot be prepared (its settings or template) ends `failed` with its
        reason and an alert, instead of coming back with every lease."""
        result = SendResult(Outcome.FAILED, "reviewops", reason=f"Could not be prepared: {why}")
        channel = channel_in_sentence(message.channel)
        self.record_failure(session, message, request, result, now, SYSTEM, channel)

    def _record_sent(
        self,
        session: Session,
        message: Message,
        request: ReviewRequest,
        result: SendResult,
        now: datetime,
        actor: Actor,
        channel: str,
    ) -> None:
        self.journal.advance(session, message, Status.SENT, now)
        message.sent_at = message.sent_at or now
        message.lease_until = None
        session.add(message)
        request.sent_at = request.sent_at or now
        if message.kind == "reminder":
            request.retries += 1
        self.journal.refresh(session, request, now)
        detail = {
            "provider": result.provider,
            "provider_id": result.provider_id,
            "kind": message.kind,
        }
        self.journal.record(session, request, "sent", actor, now, message=message, detail=detail)
        how = f"{channel} ({result.provider})"
        if result.provider == "console":
            how = f"{channel} to the console (printed, not delivered: no provider configured)"
        said = f"{_SENT_KIND.get(message.kind, 'Sent')} by {how}"
        self.journal.notify(session, request, Change("sent", said, message_id=message.id))
        schedule_reminder(self.journal, session, request, message, now)

    def _record_retry(
        self,
        session: Session,
        message: Message,
        request: ReviewRequest,
        result: SendResult,
        now: datetime,
        actor: Actor,
    ) -> None:
        # Nothing reached the provider, so the row may safely go back to the queue.
        message.attempts += 1
        if self.pacing is not None and result.throttled:
            self.pacing.slow_down(session, message, now, result.retry_after_seconds)
        delay = timedelta(seconds=result.retry_after_seconds or 0) or min(
            timedelta(seconds=30 * 2 ** min(message.attempts - 1, 10)), MAX_RETRY_DELAY
        )
        self.journal.wait(session, [message], Status.QUEUED, now, due_at=now + delay)
        self.journal.record(
            session,
            request,
            "retry",
            actor,
            now,
            message=message,
            detail={
                "reason": result.reason,
                "attempt": message.attempts,
                "next_at": message.due_at.isoformat(),
            },
        )

    def record_failure(
        self,
        session: Session,
        message: Message,
        request: ReviewRequest,
        result: SendResult,
        now: datetime,
        actor: Actor,
        channel: str,
    ) -> None:
        """Store a refusal (failed, or opted out by the provider): record, alert, fall back."""
        opted = result.outcome is Outcome.OPTED_OUT
        new_status = Status.UNSUBSCRIBED if opted else Status.FAILED
        self.journal.advance(
            session, message, new_status, now, error_code=result.error_code, reason=result.reason
        )
        message.failed_at = message.failed_at or now
        message.lease_until = None
        session.add(message)
        # The request shows its latest error; each message keeps its own first one.
        request.last_error = stored_reason(result.reason) or request.last_error
        self.journal.refresh(session, request, now)
        self.journal.record(
            session,
            request,
            new_status.value,
            actor,
            now,
            message=message,
            detail={"code": result.error_code, "reason": result.reason},
        )
        told = False
        if opted and message.channel in PHONE_CHANNELS and message.to_address:
            # The same opt-out rule as an inbound STOP: every contact and message to the
            # number, and one alert, told by the rule itself.
            reason = result.reason or "The customer opted out"
            scope = waiting.sender_scope(session, message)
            told = self.journal.opt_out_phone(
                session, message.to_address, reason, now, workspaces=scope
            )
        if not told:
            code = f" (error {result.error_code})" if result.error_code else ""
            self.journal.notify(
                session,
                request,
                Change(
                    new_status.value,
                    f"{channel} {new_status.value}: {result.reason or 'no reason given'}{code}",
                    alert=True,
                    message_id=message.id,
                ),
            )
        fall_back_to_email(self.journal, session, request, message, now)


def _result_of(finished: Finished) -> str:
    return f"storing the result of message {finished.claim.message_id}"
