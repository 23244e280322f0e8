"""The dispatch job: every few seconds, and at once when a request becomes due."""

from __future__ import annotations

from bot.usecases.dispatcher import Dispatcher
from scheduler.jobs import DISPATCH_JOB, Scheduler

DISPATCH_INTERVAL_SECONDS = 5.0


def register(scheduler: Scheduler, dispatcher: Dispatcher) -> None:
    """Run the dispatcher on an interval; `scheduler.wake()` runs it now."""
    scheduler.add(DISPATCH_JOB, dispatcher.run_until_idle, DISPATCH_INTERVAL_SECONDS)
