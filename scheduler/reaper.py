"""The reaper job: give back abandoned claims, turn abandoned sends into `unknown`."""

from __future__ import annotations

from bot.usecases.dispatcher import Dispatcher
from scheduler.jobs import Scheduler

REAPER_INTERVAL_SECONDS = 30.0


def register(scheduler: Scheduler, dispatcher: Dispatcher) -> None:
    """Run the reaper on an interval."""
    scheduler.add("reaper", dispatcher.reap, REAPER_INTERVAL_SECONDS)
