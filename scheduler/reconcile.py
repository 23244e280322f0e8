"""The reconcile job: ask Twilio what became of messages whose outcome is `unknown`.

A message is `unknown` when the answer to its send was lost (a timeout, a 5xx after Twilio
stored it, a worker that died while sending). It is never sent again automatically. This job
lists Twilio's messages to the same recipient in a window around the send and looks for ours
by its unique review link: found, it becomes sent (with its sid) or failed; still not found
once the window has settled, the team is told once and decides ("Mark as sent", "Send again").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlmodel import col, select

from bot.delivery.base import Sender
from bot.delivery.twilio import FoundMessage, TwilioQueryError
from bot.delivery.twilio_reports import twilio_error_reason, twilio_status
from bot.domain.channels import PHONE_CHANNELS
from bot.domain.status import Status
from bot.usecases.dispatcher import SENDING_LEASE
from bot.usecases.feedback import Feedback
from scheduler.jobs import Scheduler
from store.models import Event, Message

log = logging.getLogger(__name__)

RECONCILE_JOB = "reconcile"
RECONCILE_INTERVAL_SECONDS = 60.0
MARGIN = timedelta(minutes=2)  # clocks differ; Twilio stamps a message when it stores it
SETTLE = timedelta(minutes=10)  # Twilio's list may lag: wait this long after the window


class MessageFinder(Protocol):
    def find_messages(
        self,
        to: str,
        sent_after: datetime,
        sent_before: datetime,
        *,
        channel: str = "sms",
        page_size: int | None = None,
    ) -> list[FoundMessage]:
        """List the provider's messages to a recipient within a time range."""
        ...


@dataclass(frozen=True)
class ReconcileResult:
    resolved: int = 0
    unresolved: int = 0  # told to the team this run
    waiting: int = 0  # not found yet, asked again later
    errors: int = 0


def finders(senders: Mapping[str, Sender]) -> dict[str, MessageFinder]:
    """Pick, per channel, the senders that can be asked about past messages (Twilio)."""
    return {
        channel: cast(MessageFinder, sender)
        for channel, sender in senders.items()
        if channel in PHONE_CHANNELS and callable(getattr(sender, "find_messages", None))
    }


class Reconciler:
    """Resolve `unknown` SMS and WhatsApp messages against the provider's own records."""

    def __init__(
        self,
        feedback: Feedback,
        finders: Mapping[str, MessageFinder],
        *,
        margin: timedelta = MARGIN,
        settle: timedelta = SETTLE,
        batch_size: int = 50,
        max_per_pass: int = 500,
    ) -> None:
        self.feedback = feedback
        self.db = feedback.db
        self.clock = feedback.clock
        self.finders = finders
        self.margin = margin
        self.settle = settle
        self.batch_size = batch_size
        # Lookups per pass (each is a call to the provider); the next pass goes on from here.
        self.max_per_pass = max_per_pass
        self._resume_after = 0

    def run_once(self) -> ReconcileResult:
        """Look up each `unknown` message not yet handed to people; resolve what can be."""
        if not self.finders:
            return ReconcileResult()
        resolved = unresolved = waiting = errors = 0
        for message in self._this_pass():
            assert message.id is not None
            finder = self.finders[message.channel]
            started, until = self._window(message)
            try:
                found = finder.find_messages(
                    message.to_address,
                    started - self.margin,
                    until + self.margin,
                    channel=message.channel,
                )
            except TwilioQueryError as exc:
                log.warning("reconcile: could not ask about message %s: %s", message.id, exc)
                errors += 1
                continue
            match = _match(message, found)
            if match is not None:
                status = twilio_status(match.status)
                if status is None or status is Status.SENDING:
                    status = Status.SENT  # Twilio holds it: it left us
                elif status is Status.CANCELED:
                    status = Status.FAILED
                failed = status in (Status.FAILED, Status.UNDELIVERED)
                self.feedback.resolve_unknown(
                    message.id,
                    sid=match.sid,
                    status=status,
                    error_code=match.error_code if failed else None,
                    reason=twilio_error_reason(match.error_code) if failed else None,
                )
                resolved += 1
            elif self.clock.now() >= until + self.margin + self.settle:
                self.feedback.report_unresolved(
                    message.id, "Twilio has no record of it to this number around that time"
                )
                unresolved += 1
            else:
                waiting += 1
        if resolved or unresolved or waiting or errors:
            log.info(
                "reconcile: %d resolved, %d told to the team, %d waiting for Twilio, %d errors",
                resolved,
                unresolved,
                waiting,
                errors,
            )
        return ReconcileResult(resolved, unresolved, waiting, errors)

    def _this_pass(self) -> Iterator[Message]:
        """Every candidate, page by page, up to `max_per_pass`: messages still waiting for
        Twilio's list to settle never hold back the ones after them (they used to: the same
        first page was asked again every pass)."""
        looked = 0
        after = self._resume_after
        while looked < self.max_per_pass:
            page = self._candidates(after)
            if not page:
                after = 0  # all seen: the next pass starts from the first again
                break
            for message in page[: self.max_per_pass - looked]:
                assert message.id is not None
                after = message.id
                looked += 1
                yield message
        self._resume_after = after

    def _candidates(self, after: int) -> list[Message]:
        told = select(Event.message_id).where(
            Event.kind == "unresolved", col(Event.message_id).is_not(None)
        )
        with self.db.read() as session:
            return list(
                session.exec(
                    select(Message)
                    .where(
                        Message.status == Status.UNKNOWN.value,
                        col(Message.channel).in_(list(self.finders)),
                        col(Message.id).not_in(told),
                        col(Message.id) > after,
                    )
                    .order_by(col(Message.id))
                    .limit(self.batch_size)
                ).all()
            )

    def _window(self, message: Message) -> tuple[datetime, datetime]:
        # The send started when its lease was taken; it could have reached Twilio until expiry.
        if message.lease_until is not None:
            return message.lease_until - SENDING_LEASE, message.lease_until
        return message.updated_at - SENDING_LEASE, message.updated_at


def _match(message: Message, found: list[FoundMessage]) -> FoundMessage | None:
    # The review link's token is unique to this message: it says which one is ours.
    ours = [m for m in found if message.token in m.body]
    if len(ours) == 1:
        return ours[0]
    if not message.body and len(found) == 1:
        return found[0]
    return None


def register(scheduler: Scheduler, reconciler: Reconciler) -> None:
    """Run reconciliation on an interval."""
    scheduler.add(RECONCILE_JOB, reconciler.run_once, RECONCILE_INTERVAL_SECONDS)
