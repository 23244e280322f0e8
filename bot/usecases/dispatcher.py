"""Use-cases of sending: claim due messages, hand each to its provider once, record the outcome.

At-most-once: a message is moved to `sending` (and committed) before the provider is called,
and nothing ever moves a `sending` row back to `queued`; if its outcome is lost it becomes
`unknown` and waits for a human or a reconciliation.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from bot import tracing
from bot.compose import Composer
from bot.delivery.base import OutgoingMessage, Sender, SendResult
from bot.domain.status import Status
from bot.metrics import Metrics
from bot.usecases import event_log
from bot.usecases import send_sql as sql
from bot.usecases.actors import SYSTEM
from bot.usecases.batches import Batches, all_or_each
from bot.usecases.event_log import Recorded
from bot.usecases.followups import reminder_stop
from bot.usecases.in_doubt import reap_expired
from bot.usecases.in_flight import HandOver, InFlight, Tally, send_once
from bot.usecases.journal_sql import Start
from bot.usecases.notifier import Change
from bot.usecases.preparing import prepare, why_unprepared
from bot.usecases.recording import Finished, Recording
from bot.usecases.waiting import opted_out
from store.db import Database
from store.models import Contact, Message, ReviewRequest, Workspace

if TYPE_CHECKING:
    from bot.usecases.pacing import Pacing
    from bot.usecases.review_ops import ReviewOps

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)  # claimed but not yet handed over: safe to give back
SENDING_LEASE = timedelta(minutes=5)  # longer than any provider timeout


Handing = tuple[Message, ReviewRequest, Workspace, Contact | None]


@dataclass(frozen=True)
class Ready:
    """A claimed message checked and prepared: what its start writes, what its sender gets."""

    start: Start
    outgoing: OutgoingMessage


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
        self.recording = Recording(self.journal, pacing)
        self._started = Batches(self.start_all, concurrency)
        self._recorded = Batches(self.record_results, concurrency)

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
        # Started with the other claims handed in meanwhile, in one transaction.
        outgoing = self._started.do(claim)
        if outgoing is None:
            return HandOver.SKIPPED
        with tracing.span("reviewops.send", message=claim.message_id, channel=outgoing.channel):
            started = time.perf_counter()
            result = send_once(self.senders, outgoing)
            took = time.perf_counter() - started
            # Recorded with the other sends that finished meanwhile, in one transaction.
            recorded = self._recorded.do(Finished(claim, result))
            tracing.annotate(recorded, result)
        self.metrics.count_send(result.provider, outgoing.channel, result.outcome.value, took)
        if recorded is not None:
            event_log.send_outcome(recorded, outgoing, result)
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
        return self.start_all([claim])[0]

    def start_all(self, claims: Sequence[Claim]) -> list[OutgoingMessage | None]:
        """Start several claimed messages in one write transaction (committed `sending`
        before any of them is sent); one whose start fails is left `claimed` (None)."""
        now = self.clock.now()
        with self.db.write() as session:

            def together(items: Sequence[Claim]) -> list[OutgoingMessage | None]:
                tokens = {c.message_id: c.token for c in items}
                ids = {"message_ids": list(tokens)}
                rows = session.exec(sql.HANDING_OVER_ALL, params=ids).all()
                held = {r[0].id: r for r in rows if r[0].claim_token == tokens.get(r[0].id or 0)}
                ready = [self._ready(session, held.get(c.message_id), now) for c in items]
                return self._go(session, ready, now)

            def alone(claim: Claim) -> OutgoingMessage | None:
                found = session.exec(sql.HANDING_OVER, params=_params(claim)).first()
                return self._go(session, [self._ready(session, found, now)], now)[0]

            return all_or_each(session, claims, together, alone, _start_of)

    def _go(
        self, session: Session, ready: Sequence[Ready | None], now: datetime
    ) -> list[OutgoingMessage | None]:
        # The ready ones move to `sending` in one statement; each keeps its place in the list.
        going = [r for r in ready if r is not None]
        starts = [r.start for r in going]
        moved = iter(self.journal.start_sending(session, starts, now, now + SENDING_LEASE))
        return [None if r is None or not next(moved) else r.outgoing for r in ready]

    def _ready(self, session: Session, found: Handing | None, now: datetime) -> Ready | None:
        # Checks a claimed message and prepares it; None when it must not go now.
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
            why = why_unprepared(error, workspace)
            self.recording.give_up(session, message, request, why, now)
            return None
        if outgoing is None:
            # Outside the send window (it may have changed since queuing): wait for it.
            self.journal.wait(session, [message], Status.QUEUED, now, due_at=allowed)
            return None
        pace_key = message.pace_key
        if self.pacing is not None:
            reservation = self.pacing.reserve(session, message, outgoing, now)
            if reservation.waits:
                return None
            pace_key = reservation.key
        start = Start(message, outgoing.body_text, outgoing.subject, pace_key)
        return Ready(start, outgoing)

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

    def record_result(self, claim: Claim, result: SendResult) -> Recorded | None:
        """Store what the provider said about a message this worker handed over; say what."""
        return self.record_results([Finished(claim, result)])[0]

    def record_results(self, batch: Sequence[Finished]) -> list[Recorded | None]:
        """Store several providers' answers in one write transaction (a savepoint each)."""
        now = self.clock.now()
        with self.db.write() as session:
            return self.recording.record_all(session, batch, now)

    def reap(self) -> tuple[int, int]:
        """Give back expired claims; turn expired sends into `unknown`. Return both counts."""
        return reap_expired(self.journal, self.db, self.clock.now())


def _start_of(claim: Claim) -> str:
    return f"handing over message {claim.message_id}"


def _params(claim: Claim) -> dict[str, object]:
    return {"message_id": claim.message_id, "token": claim.token}
