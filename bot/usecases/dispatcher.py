"""Use-cases of sending: claim due messages, hand each to its provider once, record the outcome.

At-most-once: a message is moved to `sending` (and committed) before the provider is called,
and nothing ever moves a `sending` row back to `queued`; if its outcome is lost it becomes
`unknown` and waits for a human or a reconciliation.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from bot.compose import Composer
from bot.delivery.base import Outcome, OutgoingMessage, Sender, SendResult
from bot.domain.channels import PHONE_CHANNELS, channel_in_sentence
from bot.domain.status import Status
from bot.metrics import Metrics
from bot.usecases import send_sql as sql
from bot.usecases.actors import SYSTEM, Actor
from bot.usecases.followups import fall_back_to_email, reminder_stop, schedule_reminder
from bot.usecases.in_doubt import InDoubt, mark_unknown, reap_expired
from bot.usecases.in_flight import HandOver, InFlight, Tally, send_once
from bot.usecases.notifier import Change
from bot.usecases.preparing import prepare, why_unprepared
from bot.usecases.reasons import stored_reason
from bot.usecases.waiting import opted_out
from store.db import Database
from store.models import Message, ReviewRequest

if TYPE_CHECKING:
    from bot.usecases.pacing import Pacing
    from bot.usecases.review_ops import ReviewOps

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)  # claimed but not yet handed over: safe to give back
SENDING_LEASE = timedelta(minutes=5)  # longer than any provider timeout
MAX_RETRY_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class Claim:
    message_id: int
    token: str


class Dispatcher:
    """Send what is due, through the senders of each channel."""

    def __init__(
        self,
        ops: ReviewOps,
        *,
        senders: Mapping[str, Sender],
        composer: Composer,
        batch_size: int = 50,
        db: Database | None = None,
        metrics: Metrics | None = None,
        pacing: Pacing | None = None,
        concurrency: int = 1,
    ) -> None:
        self.ops = ops
        self.journal = ops.journal
        # A worker may use its own engine (its own connections) on the same database.
        self.db = db or ops.db
        self.clock = ops.clock
        self.senders = senders
        self.composer = composer
        # With sends in flight, a batch is what the threads can start at once.
        self.batch_size = batch_size if concurrency == 1 else concurrency
        self.metrics = metrics or Metrics()
        self.pacing = pacing  # None: every sender sends as fast as it is handed messages
        self._stopping = threading.Event()
        # 1 keeps the one-after-the-other loop: no threads at all.
        self._in_flight = InFlight(concurrency)

    def stop(self) -> None:
        """Stop claiming; sends in flight finish, the claimed rest goes back to the queue."""
        self._stopping.set()

    def close(self) -> None:
        """Let the sending threads go (after their sends in flight)."""
        self._in_flight.close()

    def run_once(self) -> int:
        """Claim and send one batch of due messages; return how many were handed over."""
        claims = [] if self._stopping.is_set() else self.claim_due()
        return self._settle(self._in_flight.run_all(claims, self._hand_over))

    def run_until_idle(self, max_batches: int = 1000) -> int:
        """Send until nothing is due (the dispatch job, tests and the CLI's one-shot send)."""
        return self._settle(
            self._in_flight.drain(self.claim_due, self._hand_over, self._stopping, max_batches)
        )

    def _settle(self, tally: Tally) -> int:
        # What was claimed but never started goes back, due as before, first in line.
        if tally.give_back or self._stopping.is_set():
            self.release(tally.give_back)
        return tally.handed

    def _hand_over(self, claim: Claim) -> HandOver:
        # Checked only before `sending`: once committed, the send must go on.
        if self._stopping.is_set():
            return HandOver.NOT_STARTED
        outgoing = self.start_sending(claim)
        if outgoing is None:
            return HandOver.SKIPPED
        result = send_once(self.senders, outgoing)
        self.record_result(claim, result)
        self.metrics.sends.labels(outgoing.channel, result.outcome.value).inc()
        return HandOver.SENT

    # --- claim ----------------------------------------------------------------------------

    def claim_due(self, limit: int | None = None) -> list[Claim]:
        """Mark a batch of due queued messages as claimed by this worker, under a fresh token."""
        now = self.clock.now()
        token = secrets.token_hex(16)
        with self.db.write() as session:
            # Another worker's claimed rows are skipped, not waited for (PostgreSQL).
            query = sql.DUE_LOCKED if self.db.dialect == "postgresql" else sql.DUE
            params = {"now": now, "limit": limit or self.batch_size}
            ids = list(session.exec(query, params=params).all())
            if not ids:
                return []
            self.journal.claim(
                session, [i for i in ids if i is not None], token, now, now + CLAIM_LEASE
            )
        return [Claim(int(i), token) for i in ids if i is not None]

    def seconds_until_next_due(self) -> float | None:
        """How long until the next queued message is due (0 if it is; None if none waits)."""
        with self.db.read() as session:
            due = session.exec(sql.NEXT_DUE).first()
        return None if due is None else max((due - self.clock.now()).total_seconds(), 0.0)

    def release(self, claims: list[Claim]) -> None:
        """Give back claimed messages never handed to a provider: queued again, due as before."""
        mine: list[Message] = []
        if claims:
            with self.db.write() as session:
                query = select(Message).where(
                    col(Message.id).in_([c.message_id for c in claims]),
                    col(Message.claim_token).in_(sorted({c.token for c in claims})),
                    Message.status == Status.CLAIMED.value,
                )
                if self.db.dialect == "postgresql":
                    query = query.with_for_update()
                mine = list(session.exec(query).all())
                self.journal.wait(session, mine, Status.QUEUED, self.clock.now())
        log.info("stopping: %d claimed message(s) given back to the queue", len(mine))

    def start_sending(self, claim: Claim) -> OutgoingMessage | None:
        """Re-check a claimed message and move it to `sending`; None when it must not go now."""
        now = self.clock.now()
        with self.db.write() as session:
            found = session.exec(sql.HANDING_OVER, params=_params(claim)).first()
            if found is None:
                return None
            message, request, workspace, contact = found
            if request.deleted_at is not None:
                self._cancel(session, message, request, "The request was deleted", now)
                return None
            if contact is not None and opted_out(contact, message.channel):
                self._cancel(session, message, request, "The customer opted out", now)
                return None
            stop = reminder_stop(session, message, request, contact)
            if stop is not None:
                # Whatever path queued it, a reminder never follows a customer's action.
                self._cancel(session, message, request, stop, now)
                return None
            try:
                allowed, outgoing = prepare(self.composer, message, request, workspace, now)
            except SQLAlchemyError:
                raise  # the database, not the message: the claim comes back with its lease
            except Exception as error:  # noqa: BLE001 - a poison message must not loop
                log.error("message %s could not be prepared", message.id, exc_info=error)
                self._give_up(session, message, request, why_unprepared(error, workspace), now)
                return None
            if outgoing is None:
                # Outside the send window (it may have changed since queuing): wait for it.
                self.journal.wait(session, [message], Status.QUEUED, now, due_at=allowed)
                return None
            if self.pacing is not None and self.pacing.must_wait(session, message, outgoing, now):
                return None
            body, subject = outgoing.body_text, outgoing.subject
            started = self.journal.start_sending(
                session, message, now, now + SENDING_LEASE, body=body, subject=subject
            )
            return outgoing if started else None

    def _give_up(
        self, session: Session, message: Message, request: ReviewRequest, why: str, now: datetime
    ) -> None:
        """A message that cannot be prepared (its settings or template) ends `failed` with its
        reason and an alert, instead of coming back with every lease."""
        result = SendResult(Outcome.FAILED, "reviewops", reason=f"Could not be prepared: {why}")
        channel = channel_in_sentence(message.channel)
        self._record_failure(session, message, request, result, now, SYSTEM, channel)

    def _cancel(
        self, session: Session, message: Message, request: ReviewRequest, reason: str, now: datetime
    ) -> None:
        self.journal.cancel_waiting(session, [message], reason, now)
        self.journal.refresh(session, request, now)
        detail = {"reason": reason}
        self.journal.record(
            session, request, "canceled", SYSTEM, now, message=message, detail=detail
        )
        self.journal.notify(session, request, Change("canceled", f"Not sent: {reason}"))

    # --- outcome --------------------------------------------------------------------------

    def record_result(self, claim: Claim, result: SendResult) -> None:
        """Store what the provider said about a message this worker handed over."""
        now = self.clock.now()
        with self.db.write() as session:
            found = session.exec(sql.SENT_BY_ME, params=_params(claim)).first()
            if found is None:
                log.error(
                    "message %s lost its claim before its result was stored", claim.message_id
                )
                return
            # The workspace comes along so the follow-ups' policy read is served by the session.
            message, request, _workspace = found
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
                self._record_failure(session, message, request, result, now, actor, channel)
            else:
                # A retry for a row the reaper already gave up on: keep it `unknown`.
                log.warning("message %s: late %s ignored", message.id, result.outcome)

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
        kind = {
            "reminder": "Reminder sent",
            "fallback": "Fallback email sent",
            "resend": "Sent again",
        }
        self.journal.notify(
            session, request, Change("sent", f"{kind.get(message.kind, 'Sent')} by {how}")
        )
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

    def _record_failure(
        self,
        session: Session,
        message: Message,
        request: ReviewRequest,
        result: SendResult,
        now: datetime,
        actor: Actor,
        channel: str,
    ) -> None:
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
            told = self.journal.opt_out_phone(session, message.to_address, reason, now)
        if not told:
            code = f" (error {result.error_code})" if result.error_code else ""
            self.journal.notify(
                session,
                request,
                Change(
                    new_status.value,
                    f"{channel} {new_status.value}: {result.reason or 'no reason given'}{code}",
                    alert=True,
                ),
            )
        fall_back_to_email(self.journal, session, request, message, now)

    def reap(self) -> tuple[int, int]:
        """Give back expired claims; turn expired sends into `unknown`. Return both counts."""
        return reap_expired(self.journal, self.db, self.clock.now())


def _params(claim: Claim) -> dict[str, object]:
    return {"message_id": claim.message_id, "token": claim.token}
