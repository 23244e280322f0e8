"""`serve`'s parent process: fork the web tier and the scheduler, keep them up, stop them.

The parent imports what both children share (settings, store, use-cases) and forks, so those
pages are shared; each child then imports only what it needs (the web tier Flask and Bolt,
the scheduler the providers' SDKs). The scheduler is restarted if it dies (with a growing
pause if it keeps dying); if the web tier dies, `serve` stops and says so, for whatever
runs it (systemd, a container) to start it again. SIGTERM or SIGINT: both children get
SIGTERM and stop gracefully (the scheduler stops claiming and lets the send in flight finish);
what is still alive after STOP_SECONDS is killed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

STOP_SECONDS = 24.0  # the children's own graces are 20 s; the issue allows 25 s in all
RESTART_PAUSE_MAX = 30.0
STEADY_SECONDS = 60.0  # a scheduler that ran this long before dying is restarted at once
POLL_SECONDS = 0.5


def fork(name: str, run: Callable[[], int]) -> int:
    """Run `run` in a forked child that exits with its code; return the child's pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        code = run()
    except SystemExit as exc:  # gunicorn's arbiter leaves with sys.exit
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        log.exception("%s process failed", name)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        # Never return into the parent's code (its loop, its atexit handlers).
        os._exit(code)


def exit_code(pid: int) -> int | None:
    """Return the exit code of a child that ended (reaping it), None while it runs."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 1
    return os.waitstatus_to_exitcode(status) if done else None


class Supervisor:
    """The web tier and the scheduler as child processes of `serve`."""

    def __init__(self, web: Callable[[], int], scheduler: Callable[[], int]) -> None:
        self._web = web
        self._scheduler = scheduler
        self._stop = threading.Event()
        self.web_pid = 0
        self.scheduler_pid = 0
        self._started = 0.0
        self._pause = 1.0
        self._restart_at = 0.0

    def run(self) -> int:
        """Start both children and watch them until a signal or the web tier's end."""
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        self.web_pid = fork("web", self._web)
        log.info("web tier started (pid %d)", self.web_pid)
        self._start_scheduler()
        code = 0
        while not self._stop.wait(POLL_SECONDS):
            web_code = exit_code(self.web_pid)
            if web_code is not None:
                log.error("the web tier exited (code %s): serve stops", web_code)
                self.web_pid = 0
                code = web_code or 1
                break
            self._watch_scheduler()
        return self._stop_children() or code

    def _start_scheduler(self) -> None:
        self.scheduler_pid = fork("scheduler", self._scheduler)
        self._started = time.monotonic()
        log.info("scheduler process started (pid %d)", self.scheduler_pid)

    def _watch_scheduler(self) -> None:
        if not self.scheduler_pid:
            if time.monotonic() >= self._restart_at:
                log.warning("restarting the scheduler process")
                self._start_scheduler()
            return
        code = exit_code(self.scheduler_pid)
        if code is None:
            return
        self.scheduler_pid = 0
        steady = time.monotonic() - self._started >= STEADY_SECONDS
        self._pause = 1.0 if steady else min(self._pause * 2, RESTART_PAUSE_MAX)
        self._restart_at = time.monotonic() + (0.0 if steady else self._pause)
        log.error("the scheduler process exited (code %s); it will be restarted", code)

    def _stop_children(self) -> int:
        """SIGTERM both, wait for their graceful stops, kill what outlives them; 0 if clean."""
        alive = {
            pid: name
            for pid, name in ((self.web_pid, "web"), (self.scheduler_pid, "scheduler"))
            if pid
        }
        for pid in alive:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        worst = 0
        while alive and time.monotonic() < deadline:
            for pid in list(alive):
                code = exit_code(pid)
                if code is not None:
                    worst = worst or code
                    del alive[pid]
            time.sleep(0.05)
        for pid, name in alive.items():
            log.error("the %s process outlived its grace: killed", name)
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            worst = 1
        return worst


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
