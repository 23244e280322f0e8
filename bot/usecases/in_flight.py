"""Up to N hand-overs in flight for one dispatcher: its claims sent by a pool of threads.

Each hand-over is the dispatcher's own fence (start sending, call the provider, record),
so the threads change nothing of at-most-once: a row is `sending` (committed) before its
provider is called, and a hand-over that was not started when the dispatcher stopped is
given back to the queue by the caller.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from bot.delivery.base import Outcome, OutgoingMessage, Sender, SendResult

if TYPE_CHECKING:
    from bot.usecases.dispatcher import Claim

log = logging.getLogger(__name__)


class HandOver(Enum):
    SENT = "sent"  # handed to its provider, outcome recorded
    SKIPPED = "skipped"  # not to be sent now (canceled, outside the window, fence lost)
    NOT_STARTED = "not_started"  # the dispatcher was stopping: still `claimed`, give it back


@dataclass
class Tally:
    handed: int = 0
    give_back: list[Claim] = field(default_factory=list)


def send_once(senders: Mapping[str, Sender], outgoing: OutgoingMessage) -> SendResult:
    """Hand one message to its channel's sender; a crash reads as unknown, never as unsent."""
    sender = senders.get(outgoing.channel)
    if sender is None:
        return SendResult(Outcome.FAILED, "none", reason=f"No sender for {outgoing.channel}")
    try:
        return sender.send(outgoing)
    except Exception:
        # A sender bug after the hand-over may have sent it: never resend.
        log.exception("sender %s raised for message %s", sender.name, outgoing.message_id)
        return SendResult(Outcome.UNKNOWN, sender.name, reason="The sender crashed")


class InFlight:
    """Run a dispatcher's hand-overs on up to `concurrency` threads at once."""

    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be 1 or more")
        self.concurrency = concurrency
        # Refill when half the slots are free: one claim query per N/2 sends, not per send.
        self.refill_at = max(1, concurrency // 2)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="dispatch")
            return self._pool

    def run_all(self, claims: list[Claim], hand_over: Callable[[Claim], HandOver]) -> Tally:
        """Hand over every claim, N at a time; return when all are done."""
        tally = Tally()
        if self.concurrency == 1:
            # One after the other in the caller's thread, as before there were threads.
            for claim in claims:
                try:
                    outcome = hand_over(claim)
                except Exception:
                    # As on the threads: one hand-over's error never stops the rest.
                    log.exception("hand-over of message %s failed", claim.message_id)
                    continue
                self._count(claim, outcome, tally)
            return tally
        finished: queue.SimpleQueue[Future[HandOver]] = queue.SimpleQueue()
        in_flight = {self._submit(hand_over, c, finished): c for c in claims}
        while in_flight:
            self._collect(in_flight, finished, tally)
        return tally

    def drain(
        self,
        claim: Callable[[int | None], list[Claim]],
        hand_over: Callable[[Claim], HandOver],
        stopping: threading.Event,
        max_claims: int,
    ) -> Tally:
        """Keep N hand-overs in flight, claiming as slots free up, until nothing is due."""
        tally = Tally()
        if self.concurrency == 1:
            for _ in range(max_claims):
                claimed = [] if stopping.is_set() else claim(None)
                if not claimed:
                    break
                more = self.run_all(claimed, hand_over)
                tally.handed += more.handed
                tally.give_back += more.give_back
            return tally
        in_flight: dict[Future[HandOver], Claim] = {}
        finished: queue.SimpleQueue[Future[HandOver]] = queue.SimpleQueue()
        claims_left = max_claims
        while True:
            free = self.concurrency - len(in_flight)
            if claims_left and not stopping.is_set() and (free >= self.refill_at or not in_flight):
                claims_left -= 1
                claimed = claim(free)
                if not claimed:
                    claims_left = 0  # nothing due now: finish what is in flight
                for c in claimed:
                    in_flight[self._submit(hand_over, c, finished)] = c
            if not in_flight:
                return tally
            self._collect(in_flight, finished, tally)

    def _submit(
        self,
        hand_over: Callable[[Claim], HandOver],
        claim: Claim,
        finished: queue.SimpleQueue[Future[HandOver]],
    ) -> Future[HandOver]:
        future = self._executor().submit(hand_over, claim)
        # Each hand-over says itself when it ends: `wait(FIRST_COMPLETED)` instead added and
        # removed a waiter on every future in flight at each turn (N locks per collect).
        future.add_done_callback(finished.put)
        return future

    def _collect(
        self,
        in_flight: dict[Future[HandOver], Claim],
        finished: queue.SimpleQueue[Future[HandOver]],
        tally: Tally,
    ) -> None:
        """Count the hand-overs that ended: at least one (waiting for it), and any others."""
        done = [finished.get()]
        while True:
            try:
                done.append(finished.get_nowait())
            except queue.Empty:
                break
        for future in done:
            claim = in_flight.pop(future)
            try:
                outcome = future.result()
            except Exception:
                # A database error mid-fence: a `claimed` row comes back when its lease
                # expires, a `sending` one becomes `unknown`; neither is sent again here.
                log.exception("hand-over of message %s failed", claim.message_id)
                continue
            self._count(claim, outcome, tally)

    @staticmethod
    def _count(claim: Claim, outcome: HandOver, tally: Tally) -> None:
        if outcome is HandOver.SENT:
            tally.handed += 1
        elif outcome is HandOver.NOT_STARTED:
            tally.give_back.append(claim)

    def close(self) -> None:
        """Let the threads go once their hand-overs are done."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
