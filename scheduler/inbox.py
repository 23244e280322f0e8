"""Who applies the webhook inbox: a thread in the web process, and the scheduler's sweep.

The web process applies what it just stored in its own background thread woken by the route,
so the thread reply follows the callback within a moment even where the scheduler runs in
another process. During a burst the thread lets the answers go first: it applies a small
batch once the route has been quiet for 200 ms, or at least every 2 s, so applying
(CPU under the same GIL, and SQLite's write lock) never holds the answers up for long.
The sweep job (any process with a scheduler) takes what nobody applied within SWEEP_AFTER:
rows left by a web process that died after answering 200, or given back for later. It also
deletes old applied rows.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from bot.usecases.inbox import Inbox
from scheduler.jobs import Scheduler

log = logging.getLogger(__name__)

INBOX_JOB = "webhook_inbox"
SWEEP_SECONDS = 5.0
# Younger reports belong to the thread of the web process that stored them.
SWEEP_AFTER = timedelta(seconds=10)
# The route is "quiet" after this long without a new report; a burst defers applying so long.
QUIET_SECONDS = 0.2
MAX_DEFER_SECONDS = 2.0
DRAIN_BATCH = 20  # small: each batch holds the GIL and takes the write lock for a moment
# The drainer also looks on its own this often: a row given back for later is retried.
DRAIN_IDLE_SECONDS = 5.0
STOP_SECONDS = 5.0


class InboxDrainer:
    """Apply the inbox in one background thread, started on the first wake."""

    def __init__(self, inbox: Inbox, *, idle_seconds: float = DRAIN_IDLE_SECONDS) -> None:
        self.inbox = inbox
        self.idle_seconds = idle_seconds
        self._woken = False
        self._working = False
        self._last_store = 0.0  # time.monotonic() of the last wake (this thread's pacing only)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._state = threading.Condition()

    def wake(self) -> None:
        """Say a report was stored: apply it soon (starts the thread in this process if needed)."""
        with self._state:
            if self._stopping:
                return  # the sweep of another process, or this one's next start, applies it
            self._woken = True
            self._last_store = time.monotonic()
            if self._thread is None:
                # Started here, not at build time: gunicorn forks workers after building the
                # app, and a thread does not survive a fork.
                self._thread = threading.Thread(target=self._run, name="webhook-inbox", daemon=True)
                self._thread.start()
            self._state.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing woke the thread that it has not applied; True when so."""
        with self._state:
            return self._state.wait_for(lambda: not (self._woken or self._working), timeout)

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Finish the report being applied, give the rest of the batch back, end the thread."""
        with self._state:
            self._stopping = True
            self._state.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._state:
                self._state.wait_for(lambda: self._woken or self._stopping, self.idle_seconds)
                if self._stopping:
                    return
                self._woken = False
                self._working = True
            try:
                self._drain()
            except Exception:
                # The database may be down: the rows stay stored and the next wake retries.
                log.exception("applying the webhook inbox failed")
            finally:
                with self._state:
                    self._working = False
                    self._state.notify_all()

    def _drain(self) -> None:
        deferred_since = time.monotonic()
        while not self._stopping:
            now = time.monotonic()
            quiet_in = QUIET_SECONDS - (now - self._last_store)
            if quiet_in > 0 and now - deferred_since < MAX_DEFER_SECONDS:
                with self._state:  # a burst is on: let its answers go first
                    self._state.wait_for(lambda: self._stopping, quiet_in)
                continue
            applied = self.inbox.apply_batch(lambda: self._stopping, limit=DRAIN_BATCH)
            deferred_since = time.monotonic()
            if not applied:
                return


def sweep(inbox: Inbox) -> int:
    """Apply what waited longer than SWEEP_AFTER and delete old applied rows; return how many."""
    applied = inbox.apply_pending(older_than=SWEEP_AFTER)
    inbox.purge()
    return applied


def register(scheduler: Scheduler, inbox: Inbox) -> None:
    """Sweep the inbox every few seconds."""
    scheduler.add(INBOX_JOB, lambda: sweep(inbox), SWEEP_SECONDS)
