"""The scheduler's process: dispatch, reaper and Slack outbox until SIGTERM, then a graceful stop.

`reviewops worker` runs it in the foreground; `reviewops serve` in a child process of its own,
so sending never shares the web workers' interpreter (and GIL).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import typer

from bot.app import create_app
from bot.settings import Settings
from bot.wake import WakePipe

log = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 1.0


def run_scheduler(
    settings: Settings,
    *,
    name: str = "worker",
    wake: WakePipe | None = None,
    parent: int | None = None,
) -> int:
    """Run the jobs until SIGTERM or SIGINT; return 0, or 1 if a job outlived the grace period.

    With `wake`, a byte on the pipe (a web worker's request became due) runs dispatch now.
    With `parent`, stop as on SIGTERM if that process is gone (serve's arbiter was killed).
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    app = create_app(settings)
    app.start_scheduler()
    if wake is not None:
        wake.listen(app.scheduler.wake)
    if parent is not None:
        _watch_parent(parent, stop)
    typer.echo(f"{name} running; Ctrl-C to stop")
    try:
        stop.wait()
        typer.echo(f"{name} stopping: no new claims, in-flight sends finish")
    finally:
        app.close()
    if not app.scheduler.idle():
        # A job outlived the grace period: the caller leaves now; a send cut short becomes
        # `unknown` through the reaper, never a resend.
        log.warning("%s stopped with a job still running", name)
        return 1
    return 0


def _watch_parent(parent: int, stop: threading.Event) -> None:
    """Set `stop` once `parent` is no longer this process's parent (it died)."""

    def watch() -> None:
        while not stop.wait(PARENT_CHECK_SECONDS):
            if os.getppid() != parent:
                log.warning("serve's main process is gone: the scheduler stops")
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
