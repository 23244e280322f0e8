"""Per-sender pacing: reserve each message's slot with its sender, shared by every worker.

A message due now takes the sender's next free slot; if that is later, it goes back to the
queue due at its slot and keeps it, so when it is claimed again it goes without reserving
anew: 10,000 messages behind a 1 message/s number cost two claims each, not a scan per
second. A 429 from the provider halves the sender's rate; quiet minutes double it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.delivery.base import OutgoingMessage
from bot.domain import pacing
from bot.domain.pacing import PacedWait, SenderRates, SenderSetup
from bot.domain.status import Status
from bot.usecases.journal import Journal
from store import pacing as pace_store
from store.models import Message

# A reserved slot is kept this long after it came: a message paused, or left behind by a
# stopped worker, for longer reserves again rather than going out in a burst with the rest.
SLOT_KEPT = timedelta(minutes=15)


@dataclass(frozen=True)
class Reservation:
    """The sender a message goes out through (its pace key), and whether it waits its slot."""

    key: str | None
    waits: bool


class Pacing:
    """Hold messages to their sender's pace (SENDER_RATES over the defaults by kind)."""

    def __init__(self, journal: Journal, rates: SenderRates, setup: SenderSetup) -> None:
        self.journal = journal
        self.rates = rates
        self.setup = setup

    def reserve(
        self, session: Session, message: Message, outgoing: OutgoingMessage, now: datetime
    ) -> Reservation:
        """Reserve the message's slot with its sender; if it is later, queue it until then.

        Runs in the dispatcher's transaction before `sending`: the sender's row stays locked
        until the message is either started or queued again, so workers take turns. A message
        that goes now keeps its sender's key for the start to write (one UPDATE, not two).
        """
        key = self.setup.key(outgoing.channel, outgoing.sender_name)
        configured = self.rates.rate_for(key) if key is not None else None
        if key is None or configured is None:
            return Reservation(key, waits=False)
        if _slot_came(message, key, now):
            message.paced_at = None
            return Reservation(key, waits=False)
        pace = pace_store.locked_pace(session, key, configured, now)
        pace.rate, pace.slowed_at = pacing.recovered(pace.rate, configured, pace.slowed_at, now)
        units = pacing.cost(outgoing.channel, outgoing.body_text)
        slot, pace.next_free_at = pacing.reserve(pace.next_free_at, pace.rate, units, now)
        pace.updated_at = now
        session.add(pace)
        if slot <= now:
            if message.paced_at is not None:
                message.paced_at = None
            return Reservation(key, waits=False)
        message.pace_key = key
        message.paced_at = slot
        self.journal.wait(session, [message], Status.QUEUED, now, due_at=slot)
        return Reservation(key, waits=True)

    def slow_down(
        self, session: Session, message: Message, now: datetime, retry_after: float | None
    ) -> None:
        """The provider said too many requests: halve the sender's rate, pause it as asked."""
        key = message.pace_key
        configured = self.rates.rate_for(key) if key is not None else None
        if key is None or configured is None:
            return
        pace = pace_store.locked_pace(session, key, configured, now)
        current, _ = pacing.recovered(pace.rate, configured, pace.slowed_at, now)
        pace.rate = pacing.slowed(current, configured)
        pace.slowed_at = now
        pace.throttled += 1
        pace.next_free_at = max(pace.next_free_at, now + timedelta(seconds=retry_after or 0))
        pace.updated_at = now
        session.add(pace)


def _slot_came(message: Message, key: str, now: datetime) -> bool:
    # Its own reservation, not moved since (a new due time means it waited for something else).
    return (
        message.paced_at is not None
        and message.pace_key == key
        and message.paced_at == message.due_at
        and now - message.paced_at < SLOT_KEPT
    )


def paced_waits(session: Session, messages: Iterable[Message]) -> dict[int, PacedWait]:
    """Say when each message waiting for its slot with a sender is expected to go."""
    found: dict[int, PacedWait] = {}
    for message in messages:
        slot, key = message.paced_at, message.pace_key
        if message.id is None or slot is None or key is None:
            continue
        if message.status != Status.QUEUED.value or slot != message.due_at:
            continue
        pace = pace_store.pace_of(session, key)
        if pace is None:
            continue
        ahead = pace_store.waiting_ahead(session, key, slot)
        found[message.id] = PacedWait(message.id, slot, key, pace.rate, ahead)
    return found
