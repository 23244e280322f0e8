"""A request's life after creation: pause, resume, cancel, reschedule, send now, resend."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.domain.send_time import earliest_send
from bot.domain.status import PENDING, Status
from bot.domain.timing import slack_date_token
from bot.usecases import loading
from bot.usecases.actors import Actor
from bot.usecases.audit import record_audit
from bot.usecases.inputs import BulkResult
from bot.usecases.notifier import Change
from bot.usecases.services import UseCase
from bot.usecases.unknown_outcomes import require_decider
from bot.usecases.waiting import opted_out
from store import imports as import_store
from store.models import Contact, Message, ReviewRequest


class Lifecycle(UseCase):
    """Act on the waiting messages of requests."""

    def pause(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Hold the queued messages of these requests until resumed."""
        return self._bulk(workspace_id, numbers, actor, self._pause_one)

    def resume(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Put paused messages back in the queue; overdue ones go out at once."""
        result = self._bulk(workspace_id, numbers, actor, self._resume_one)
        if result.changed:
            self.wake()
        return result

    def cancel(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Cancel for good whatever these requests still had to send."""
        return self._bulk(workspace_id, numbers, actor, self._cancel_one)

    def count_queued(self, workspace_id: int) -> int:
        """Count the requests that still have a message waiting (queued or paused)."""
        with self.db.read() as session:
            return session.exec(
                select(func.count(func.distinct(Message.request_id))).where(
                    Message.workspace_id == workspace_id,
                    col(Message.status).in_([s.value for s in PENDING]),
                )
            ).one()

    def cancel_all_queued(self, workspace_id: int, actor: Actor) -> BulkResult:
        """Cancel every request in the workspace that still has a message waiting."""
        with self.db.read() as session:
            numbers = session.exec(_waiting_numbers(workspace_id)).all()
        result = self.cancel(workspace_id, sorted(numbers), actor)
        # Each request is canceled in its own transaction; the entry says what the whole did.
        with self.db.write() as session:
            detail = {"canceled": len(result.changed), "refused": len(result.refused)}
            record_audit(
                session, workspace_id, actor, "cancel_all", self.clock.now(), detail=detail
            )
        return result

    def cancel_import(self, workspace_id: int, import_id: int, actor: Actor) -> BulkResult:
        """Cancel whatever the requests of one CSV import still had to send.

        The import is marked canceled first, in its own transaction, under the lock each of
        its batches takes (bot/usecases/import_write.py): a batch being written finishes
        first, and no batch starts after. Then what waits is canceled, again until nothing
        of the import waits.

        :raise NotFound: the workspace has no such import.
        """
        with self.db.write() as session:
            batch = import_store.lock_import(session, workspace_id, import_id)
            if batch is None:
                raise NotFound(f"There is no import {import_id}.", field="import")
            batch.state = "canceled"
            session.add(batch)
        result = BulkResult()
        tried: set[int] = set()
        while True:
            with self.db.read() as session:
                waiting = session.exec(
                    _waiting_numbers(workspace_id).where(ReviewRequest.import_id == import_id)
                ).all()
            numbers = sorted(set(waiting) - tried)
            if not numbers:
                break
            tried.update(numbers)
            # Many per transaction: an import may hold 100,000 requests.
            done = self._bulk(workspace_id, numbers, actor, self._cancel_one, per=500)
            result.changed += done.changed
            result.refused += done.refused
            result.unknown += done.unknown
        with self.db.write() as session:
            detail = {"canceled": len(result.changed), "refused": len(result.refused)}
            target = f"import {import_id}"
            record_audit(
                session,
                workspace_id,
                actor,
                "cancel_import",
                self.clock.now(),
                target=target,
                detail=detail,
            )
        return result

    def pause_workspace(self, session: Session, workspace_id: int, actor: Actor) -> list[int]:
        """Hold every queued message of a workspace, in the caller's transaction (uninstalled).

        Return the numbers of the requests paused; they are resumed by hand, as any pause.
        """
        now = self.clock.now()
        queued = session.exec(
            select(Message).where(
                Message.workspace_id == workspace_id, Message.status == Status.QUEUED.value
            )
        ).all()
        self.journal.wait(session, queued, Status.PAUSED, now)
        paused: list[int] = []
        for request_id in dict.fromkeys(m.request_id for m in queued):
            request = session.get(ReviewRequest, request_id)
            if request is not None:
                self._tell(session, request, "paused", actor, now)
                paused.append(request.number)
        return paused

    def reschedule(
        self, workspace_id: int, number: int, when: datetime, actor: Actor
    ) -> ReviewRequest:
        """Move the waiting messages of a request to a new time (inside the send window).

        :raise NotAllowed: nothing is waiting to be sent.
        """
        now = self.clock.now()
        if when.tzinfo is None:
            raise InvalidInput("The time needs a timezone.", field="when")
        if when < now - timedelta(minutes=1):
            raise InvalidInput("That time has already passed.", field="when")
        with self.db.write() as session:
            request = loading.request(session, workspace_id, number)
            policy = loading.policy(session, workspace_id)
            pending = loading.pending_messages(session, request)
            if not pending:
                raise NotAllowed(loading.why_not(session, request, "rescheduled"))
            for message in pending:
                # Each its own time: a text also waits for the recipient's local hours.
                at = earliest_send(max(when, now), policy, message.channel, message.to_address)
                self.journal.wait(session, [message], Status.QUEUED, now, due_at=at)
            due = min(m.due_at for m in pending)
            request.scheduled_at = due
            self.journal.refresh(session, request, now)
            self.journal.record(
                session, request, "rescheduled", actor, now, detail={"due_at": due.isoformat()}
            )
            self.journal.notify(
                session,
                request,
                Change(
                    "rescheduled",
                    f"Rescheduled by {actor.label} for {slack_date_token(due, policy.timezone)}",
                    actor_id=actor.id,
                ),
            )
        if due <= now:
            self.wake()
        return request

    def send_now(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send the waiting messages of a request now (still inside the send window)."""
        return self.reschedule(workspace_id, number, self.clock.now(), actor)

    def resend(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send a failed, undelivered or unknown request again, as a new message.

        :raise NotAllowed: the last message did not fail, or the customer opted out.
        """
        now = self.clock.now()
        with self.db.write() as session:
            request = loading.request(session, workspace_id, number)
            messages = loading.messages(session, request)
            if loading.pending_messages(session, request) or any(
                m.status in (Status.CLAIMED, Status.SENDING) for m in messages
            ):
                raise NotAllowed(
                    f"#{number} still has a message on its way, so it can't be resent."
                )
            last = messages[-1] if messages else None
            resendable = {Status.FAILED, Status.UNDELIVERED, Status.UNKNOWN}
            if last is None or Status(last.status) not in resendable:
                state = last.status if last else "empty"
                raise NotAllowed(
                    f"#{number} is {state}: only failed, undelivered or unknown requests can be resent."
                )
            if last.status == Status.UNKNOWN.value:
                require_decider(request, actor)  # it may have reached the customer already
                record_audit(session, workspace_id, actor, "send_again", now, target=f"#{number}")
            contact = session.get(Contact, request.contact_id) if request.contact_id else None
            if contact is not None and opted_out(contact, last.channel):
                raise NotAllowed(
                    f"{request.customer_name} opted out of {last.channel.upper()}, so #{number} can't be resent."
                )
            self.journal.add_message(session, request, last.channel, "resend", now, now)
            request.scheduled_at = now
            self.journal.refresh(session, request, now)
            self.journal.record(
                session, request, "resent", actor, now, detail={"channel": last.channel}
            )
            self.journal.notify(
                session, request, Change("resent", f"Resent by {actor.label}", actor_id=actor.id)
            )
        self.wake()
        return request

    # --- internals shared by the bulk actions -------------------------------------------

    def _bulk(
        self,
        workspace_id: int,
        numbers: Iterable[int],
        actor: Actor,
        one: Callable[[Session, ReviewRequest, Actor, datetime], None],
        *,
        per: int = 1,
    ) -> BulkResult:
        """Apply `one` to each request, `per` requests a transaction.

        `one` refuses (NotAllowed, NotFound) before it writes anything, so a refusal leaves the
        others of its transaction to go on.
        """
        result = BulkResult()
        now = self.clock.now()
        wanted = list(dict.fromkeys(numbers))  # keep order, drop repeats
        for start in range(0, len(wanted), per):
            with self.db.write() as session:
                for number in wanted[start : start + per]:
                    try:
                        request = loading.request(session, workspace_id, number)
                        one(session, request, actor, now)
                    except (NotAllowed, NotFound) as exc:
                        result.refused.append((number, exc.message))
                        if isinstance(exc, NotFound):
                            result.unknown.append(number)
                    else:
                        result.changed.append(number)
        return result

    def _pause_one(
        self, session: Session, request: ReviewRequest, actor: Actor, now: datetime
    ) -> None:
        queued = [
            m for m in loading.pending_messages(session, request) if m.status == Status.QUEUED
        ]
        if not queued:
            raise NotAllowed(loading.why_not(session, request, "paused"))
        self.journal.wait(session, queued, Status.PAUSED, now)
        self._tell(session, request, "paused", actor, now)

    def _resume_one(
        self, session: Session, request: ReviewRequest, actor: Actor, now: datetime
    ) -> None:
        paused = [
            m for m in loading.pending_messages(session, request) if m.status == Status.PAUSED
        ]
        if not paused:
            if loading.pending_messages(session, request):
                raise NotAllowed(f"#{request.number} isn't paused, so it can't be resumed.")
            raise NotAllowed(loading.why_not(session, request, "resumed"))
        self.journal.wait(session, paused, Status.QUEUED, now)
        self._tell(session, request, "resumed", actor, now)

    def _cancel_one(
        self, session: Session, request: ReviewRequest, actor: Actor, now: datetime
    ) -> None:
        pending = loading.pending_messages(session, request)
        if not pending:
            raise NotAllowed(loading.why_not(session, request, "canceled"))
        self.journal.cancel_waiting(session, pending, f"Canceled by {actor.name or actor.id}", now)
        self._tell(session, request, "canceled", actor, now)

    def _tell(
        self, session: Session, request: ReviewRequest, verb: str, actor: Actor, now: datetime
    ) -> None:
        """Refresh the request after a change to its waiting messages; record and tell who did it."""
        self.journal.refresh(session, request, now)
        self.journal.record(session, request, verb, actor, now)
        self.journal.notify(
            session,
            request,
            Change(verb, f"{verb.capitalize()} by {actor.label}", actor_id=actor.id),
        )


def _waiting_numbers(workspace_id: int) -> SelectOfScalar[int]:
    """The numbers of a workspace's requests that still have a message waiting."""
    return (
        select(ReviewRequest.number)
        .join(Message, col(Message.request_id) == col(ReviewRequest.id))
        .where(
            Message.workspace_id == workspace_id,
            col(Message.status).in_([s.value for s in PENDING]),
            col(ReviewRequest.deleted_at).is_(None),
        )
        .distinct()
    )
