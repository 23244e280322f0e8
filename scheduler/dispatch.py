"""The dispatch job: every few seconds, and at once when a request becomes due."""

from __future__ import annotations

from bot.usecases.dispatcher import Dispatcher
from scheduler.jobs import DISPATCH_JOB, Scheduler

DISPATCH_INTERVAL_SECONDS = 5.0
# Never sooner than this after a run: a message due now that a run could not claim (another
# worker holds it) must not make the job spin.
MIN_WAKE_SECONDS = 0.25


def register(scheduler: Scheduler, dispatcher: Dispatcher) -> None:
    """Run the dispatcher on an interval; `scheduler.wake()` runs it now; stop it on shutdown."""

    def dispatch() -> None:
        dispatcher.run_until_idle()
        # A paced sender's next slot, or any message due before the next interval: run then,
        # so a paced queue goes out at its pace instead of in a burst every interval.
        wait = dispatcher.seconds_until_next_due()
        if wait is not None and wait < DISPATCH_INTERVAL_SECONDS:
            scheduler.wake_in(max(wait, MIN_WAKE_SECONDS))

    scheduler.add(DISPATCH_JOB, dispatch, DISPATCH_INTERVAL_SECONDS)
    # On shutdown the dispatcher stops claiming, so the job ends after the send in flight.
    scheduler.on_stop(dispatcher.stop)
