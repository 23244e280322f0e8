"""The erasure job: once a day, erase what retention and the uninstall grace period keep no more.

Each round erases at most a batch per workspace in its own transaction; a run goes on round
after round until nothing is left or `MAX_ROUNDS` is reached (a first run on years of history
spreads over a few days rather than holding the database for hours). What it erased is marked,
so a second run, or a second scheduler process, erases nothing twice.
"""

from __future__ import annotations

import logging

from bot.usecases.erasure import Erasure, ErasureRun
from scheduler.jobs import Scheduler

log = logging.getLogger(__name__)

ERASURE_JOB = "erasure"
ERASURE_INTERVAL_SECONDS = 24 * 3600.0
MAX_ROUNDS = 50  # batches per workspace and run


def run_erasure(erasure: Erasure, grace_days: int, max_rounds: int = MAX_ROUNDS) -> ErasureRun:
    """Erase round after round until a round finds nothing; return what was erased."""
    retained = uninstalled = 0
    for _ in range(max_rounds):
        run = erasure.run_daily(grace_days)
        if not run.by_retention and not run.by_uninstall:
            break
        retained += run.by_retention
        uninstalled += run.by_uninstall
    if retained or uninstalled:
        log.info(
            "erased %d requests by retention, %d of uninstalled workspaces", retained, uninstalled
        )
    return ErasureRun(retained, uninstalled)


def register(scheduler: Scheduler, erasure: Erasure, grace_days: int) -> None:
    """Run the erasure once a day (and when the process starts)."""
    scheduler.add(ERASURE_JOB, lambda: run_erasure(erasure, grace_days), ERASURE_INTERVAL_SECONDS)
