"""The dispatch job: every few seconds, and at once when a request becomes due."""

from __future__ import annotations

from bot.usecases.dispatcher import Dispatcher
from scheduler.jobs import DISPATCH_JOB, Scheduler

DISPATCH_INTERVAL_SECONDS = 5.0


def register(scheduler: Scheduler, dispatcher: Dispatcher) -> None:
    """Run the dispatcher on an interval; `scheduler.wake()` runs it now; stop it on shutdown."""
    scheduler.add(DISPATCH_JOB, dispatcher.run_until_idle, DISPATCH_INTERVAL_SECONDS)
    # On shutdown the dispatcher stops claiming, so the job ends after the send in flight.
    scheduler.on_stop(dispatcher.stop)
