"""`serve`'s main process: gunicorn's arbiter, which also keeps the scheduler process running.

The arbiter forks the web workers and, beside them, one scheduler process (what `worker`
runs), so dispatching never shares a web worker's interpreter (and GIL). Both are forked
from the arbiter after it loaded what they share and built the web app (gunicorn's
`preload_app`, `bot/server.py`), so those pages are shared; the scheduler then loads only
what it alone needs (the providers' SDKs), at a lower CPU priority than the web workers
(Slack answers first). Each fork freezes the arbiter's objects first (`settle_heap`). The
scheduler is restarted if it dies, at once if it had run a while, else after a pause that
grows up to RESTART_PAUSE_MAX.
On SIGTERM the web workers and the scheduler stop together, gracefully (the scheduler stops
claiming and lets the send in flight finish); a scheduler still alive after STOP_SECONDS is
killed (a send cut short becomes `unknown` through the reaper, never a resend).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from gunicorn.arbiter import Arbiter

log = logging.getLogger(__name__)

STOP_SECONDS = 24.0  # the scheduler's own grace is 20 s; the issue allows 25 s in all
RESTART_PAUSE_MAX = 30.0
# The scheduler yields the CPU to the web workers when both want it: Slack's 3 s ack limit is
# hard, a send a few milliseconds later is not (on an idle machine it changes nothing).
SCHEDULER_NICENESS = 5
STEADY_SECONDS = 60.0  # a scheduler that ran this long before dying is restarted at once


def settle_heap() -> None:
    """Freeze what the arbiter built so far, just before a fork (Python's advice for fork).

    Frozen objects are never visited by the collector again, in the arbiter or in a child, so
    a child's collections do not write to (and so copy) the pages it shares with the arbiter.
    """
    gc.collect()
    gc.freeze()


def fork(name: str, run: Callable[[], int]) -> int:
    """Run `run` in a forked child that exits with its code; return the child's pid."""
    settle_heap()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        code = run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        log.exception("%s process failed", name)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        # Never return into the arbiter's code (its loop, its exit handlers).
        os._exit(code)


def exit_code(pid: int) -> int | None:
    """Return the exit code of a child that ended (reaping it), None while it runs."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 1
    return os.waitstatus_to_exitcode(status) if done else None


class ServeArbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's arbiter with one more child to keep alive: the scheduler process."""

    def __init__(self, app: Any, scheduler: Callable[[], int]) -> None:
        super().__init__(app)
        self._run_scheduler = scheduler
        self.scheduler_pid = 0
        self._started = 0.0
        self._pause = 1.0
        self._restart_at = 0.0
        self._stopping = False

    def start(self) -> None:
        super().start()
        self._fork_scheduler()

    def _fork_scheduler(self) -> None:
        listeners = list(self.LISTENERS)

        def run() -> int:
            # The arbiter's signal handlers and sockets are not the scheduler's business.
            for sig in [*self.SIGNALS, signal.SIGCHLD]:
                signal.signal(sig, signal.SIG_DFL)
            for listener in listeners:
                listener.close()
            os.nice(SCHEDULER_NICENESS)
            return self._run_scheduler()

        self.scheduler_pid = fork("scheduler", run)
        self._started = time.monotonic()
        log.info("scheduler process started (pid %d)", self.scheduler_pid)

    def reap_workers(self) -> None:
        # Called on SIGCHLD: see to the scheduler first, the web workers' reaper takes the rest.
        if self.scheduler_pid:
            code = exit_code(self.scheduler_pid)
            if code is not None:
                self._scheduler_ended(code)
        super().reap_workers()

    def _scheduler_ended(self, code: int) -> None:
        self.scheduler_pid = 0
        if self._stopping:
            return
        steady = time.monotonic() - self._started >= STEADY_SECONDS
        self._pause = 1.0 if steady else min(self._pause * 2, RESTART_PAUSE_MAX)
        self._restart_at = time.monotonic() + (0.0 if steady else self._pause)
        log.error("the scheduler process exited (code %s); it will be restarted", code)

    def manage_workers(self) -> None:
        super().manage_workers()
        if not self.scheduler_pid and not self._stopping and time.monotonic() >= self._restart_at:
            log.warning("restarting the scheduler process")
            self._fork_scheduler()

    def stop(self, graceful: bool = True) -> None:
        """Stop the scheduler and the web workers together; kill what outlives its grace."""
        self._stopping = True
        deadline = time.monotonic() + STOP_SECONDS
        if self.scheduler_pid:
            _signal(self.scheduler_pid, signal.SIGTERM)  # graceful even on SIGINT: sends finish
        super().stop(graceful)
        while self.scheduler_pid and time.monotonic() < deadline:
            code = exit_code(self.scheduler_pid)
            if code is not None:
                self.scheduler_pid = 0
                if code:
                    log.warning("the scheduler process stopped with code %s", code)
                break
            time.sleep(0.1)
        if self.scheduler_pid:
            log.error("the scheduler process outlived its grace: killed")
            _signal(self.scheduler_pid, signal.SIGKILL)
            os.waitpid(self.scheduler_pid, 0)
            self.scheduler_pid = 0


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
