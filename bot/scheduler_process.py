"""The scheduler's process: dispatch, reaper and Slack outbox until SIGTERM, then a graceful stop.

`reviewops worker` runs it in the foreground; `reviewops serve` in a child process of its own,
so sending never shares the web workers' interpreter (and GIL).
"""

from __future__ import annotations

import logging
import signal
import threading

import typer

from bot.app import create_app
from bot.settings import Settings
from bot.wake import WakePipe

log = logging.getLogger(__name__)


def run_scheduler(settings: Settings, *, name: str = "worker", wake: WakePipe | None = None) -> int:
    """Run the jobs until SIGTERM or SIGINT; return 0, or 1 if a job outlived the grace period.

    With `wake`, a byte on the pipe (a web worker's request became due) runs dispatch now.
    """
    app = create_app(settings)
    app.start_scheduler()
    if wake is not None:
        wake.listen(app.scheduler.wake)
    typer.echo(f"{name} running; Ctrl-C to stop")
    try:
        wait_for_signal()
        typer.echo(f"{name} stopping: no new claims, in-flight sends finish")
    finally:
        app.close()
    if not app.scheduler.idle():
        # A job outlived the grace period: the caller leaves now; a send cut short becomes
        # `unknown` through the reaper, never a resend.
        log.warning("%s stopped with a job still running", name)
        return 1
    return 0


def wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
