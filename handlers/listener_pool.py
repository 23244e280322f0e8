"""Run Slack listeners off the request thread and answer Slack the moment a listener acks.

Bolt runs with `process_before_response=True`, so each listener is called on the thread that
serves Slack's HTTP request (or Socket Mode envelope). A few slots (`AFTER_ACK_SLOTS`) bound
how many listeners do their slow part (reading a page, building an answer) at once, so a
burst of expensive answers can't crowd the acks of new requests out of the GIL; a listener
gives its slot back while it waits on Slack (handlers/listener_slots.py). Two ways in:

- `defer`: a listener whose ack comes first and says nothing (most of them: a command, a
  button) is acked on the request thread by its caller and queued here as it is, a closure
  and not a thread. Its turn comes in the order it arrived (one queue in front of
  `ANSWER_THREADS` threads, which take a slot for their work).
  The HTTP answer never waits for a thread, so acks stay quick however many answers are
  owed: a queued answer costs its request's payload (a button on a list page carries the
  whole page's message), not a thread. Past `MAX_OWED` queued answers a new one waits for
  room (at most `ack_wait`), which slows the acks down rather than let memory grow without
  end.
- `run`: a listener whose ack says something (a modal's field errors) runs on a pool thread at
  once; the request thread waits on an event set by its `ack()` (no polling), then the listener
  waits on its thread for a slot. Past the pool's threads a new one waits for a thread and, at
  `ack_wait`, gets an empty ack. A waiting thread costs about 30 KB; the threads a burst
  starts stay in the pool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, BoltResponse
from slack_bolt.context import BoltContext

from handlers.listener_slots import Slots, give_back_while

log = logging.getLogger(__name__)

LISTENER_POOL = "reviewops_listener_pool"  # the Bolt context key that holds the pool
POOL_THREADS = 512  # listeners that ack late alive at once, most of them waiting for a slot
AFTER_ACK_SLOTS = 2  # listeners doing their slow part at once per process (GIL share)
ANSWER_THREADS = 16  # queued listeners under way at once: the others of a slot's wait on Slack
MAX_OWED = 2048  # queued acked listeners per process: ~20 s of list pages at ~100 a second
ACK_WAIT_SECONDS = 2.5  # Slack gives up after 3 s: past this, answer an empty ack anyway


class SignallingAck(Ack):
    """Bolt's ack that also wakes the request thread, then waits for a slot for what follows."""

    def __init__(self, inner: Ack, acked: threading.Event, slots: Slots) -> None:
        self._inner = inner
        super().__init__()
        self._acked = acked
        self._slots = slots

    @property  # type: ignore[override]
    def response(self) -> BoltResponse | None:
        """Slack's answer, once given: by the listener, or by the pool's fallback ack.

        A listener that sees it given late (the fallback) knows Slack has its answer already,
        and tells the person another way (handlers/errors.py).
        """
        return self._inner.response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        """Kept by the inner ack (Ack's constructor sets it to None)."""

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:  # type: ignore[override]
        response = self._inner(*args, **kwargs)
        self._acked.set()
        self._slots.take()  # on the listener's thread, which gives it back when done
        return response


class ListenerPool:
    """Threads for Slack listeners: the caller returns once the listener acked or ended."""

    def __init__(
        self,
        *,
        threads: int = POOL_THREADS,
        after_ack: int = AFTER_ACK_SLOTS,
        answer_threads: int = ANSWER_THREADS,
        ack_wait: float = ACK_WAIT_SECONDS,
        owed: int = MAX_OWED,
    ) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="slack-listener"
        )
        # The queue in front of these threads is first come, first served.
        self._answers = ThreadPoolExecutor(
            max_workers=max(answer_threads, after_ack), thread_name_prefix="slack-answer"
        )
        self._slots = Slots(after_ack)
        self._owed = owed
        self._room = threading.BoundedSemaphore(owed)
        self._ack_wait = ack_wait

    def defer(self, listener: Callable[[], None]) -> None:
        """Queue `listener`, acked already, to run in its turn holding a slot.

        `listener` must not raise (handlers/errors.py's `refusals` catches everything).
        """
        # Past MAX_OWED the request waits for room, but not past Slack's patience: it is acked.
        roomy = self._room.acquire(timeout=self._ack_wait)
        if not roomy:
            log.warning("%d Slack answers are owed: one more queued past the limit", self._owed)

        def work() -> None:
            try:
                self._slots.take()  # shared with `run`'s listeners that acked late
                listener()
            finally:
                self._slots.give_back()
                if roomy:
                    self._room.release()

        self._answers.submit(work)

    def run(self, ack: Ack, listener: Callable[[Ack], None]) -> None:
        """Start `listener(ack)` on a pool thread; return when it acked or ended.

        `listener` must not raise (handlers/errors.py's `refusals` catches everything).
        """
        acked = threading.Event()
        signalling = SignallingAck(ack, acked, self._slots)

        def work() -> None:
            try:
                listener(signalling)
            finally:
                self._slots.give_back()
                acked.set()

        self._executor.submit(work)
        if not acked.wait(self._ack_wait) and ack.response is None:
            # Slack shows the user an error at 3 s; an empty ack now beats none. The listener
            # carries on and answers through respond() or the Web API.
            log.warning("a Slack listener had not acked after %.1f s: acked for it", self._ack_wait)
            ack()

    def provide(self, context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002
        """Hand this pool to every listener through the request's context, with a `client`
        and a `respond` that give the listener's slot back while they wait on Slack (a Bolt
        middleware)."""
        context[LISTENER_POOL] = self
        give_back_while(context, self._slots)
        next()

    def close(self) -> None:
        """Let running and queued listeners finish; start no more."""
        self._executor.shutdown(wait=True)
        self._answers.shutdown(wait=True)
