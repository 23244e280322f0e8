"""Run Slack listeners off the request thread and answer Slack the moment a listener acks.

Bolt runs with `process_before_response=True`, so each listener is called on the thread that
serves Slack's HTTP request (or Socket Mode envelope). `ListenerPool.run` hands the listener to
a pool thread at once and waits on an event set by `ack()` (no polling), so the HTTP answer
leaves as soon as the listener acked, while its slow part (reading a page, calling Slack)
carries on. Two limits keep acks quick under load:

- the pool is large, so a new listener rarely waits behind older ones for a thread;
- after its ack, a listener waits for one of a few slots before its slow part, so a burst of
  expensive answers (a list page each) can't crowd the acks of new requests out of the GIL.

An acked listener waits for its slot on a thread of its own, so the pool's size is how many
answers a process can owe at once: a burst of up to that many commands is acked at once and
answered at the rate the process builds answers (about 100 list pages a second on a 2-core
machine that is also sending). Past it, a new request waits for a thread and, at
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

log = logging.getLogger(__name__)

LISTENER_POOL = "reviewops_listener_pool"  # the Bolt context key that holds the pool
POOL_THREADS = 512  # listeners alive at once per process, most of them waiting for a slot
AFTER_ACK_SLOTS = 2  # listeners doing their slow part at once per process (GIL share)
ACK_WAIT_SECONDS = 2.5  # Slack gives up after 3 s: past this, answer an empty ack anyway


class SignallingAck(Ack):
    """Bolt's ack that also wakes the request thread, then waits for a slot for what follows."""

    def __init__(self, inner: Ack, acked: threading.Event, slots: threading.Semaphore) -> None:
        self._inner = inner
        super().__init__()
        self._acked = acked
        self._slots = slots
        self._holding = False

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
        if not self._holding:
            self._slots.acquire()
            self._holding = True
        return response

    def release(self) -> None:
        """Give the slot back (the listener is done)."""
        if self._holding:
            self._holding = False
            self._slots.release()


class ListenerPool:
    """Threads for Slack listeners: the caller returns once the listener acked or ended."""

    def __init__(
        self,
        *,
        threads: int = POOL_THREADS,
        after_ack: int = AFTER_ACK_SLOTS,
        ack_wait: float = ACK_WAIT_SECONDS,
    ) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="slack-listener"
        )
        self._slots = threading.BoundedSemaphore(after_ack)
        self._ack_wait = ack_wait

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
                signalling.release()
                acked.set()

        self._executor.submit(work)
        if not acked.wait(self._ack_wait) and ack.response is None:
            # Slack shows the user an error at 3 s; an empty ack now beats none. The listener
            # carries on and answers through respond() or the Web API.
            log.warning("a Slack listener had not acked after %.1f s: acked for it", self._ack_wait)
            ack()

    def provide(self, context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002
        """Hand this pool to every listener through the request's context (a Bolt middleware)."""
        context[LISTENER_POOL] = self
        next()

    def close(self) -> None:
        """Let running listeners finish; start no more."""
        self._executor.shutdown(wait=True)
