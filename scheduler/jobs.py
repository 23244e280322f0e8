"""APScheduler wiring: a few interval jobs per process, none per request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

DISPATCH_JOB = "dispatch"


class Scheduler:
    """Run the dispatcher, the reaper and the Slack outbox on intervals in this process."""

    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone=UTC,
        )

    def add(self, job_id: str, func: Callable[[], object], seconds: float) -> None:
        """Run `func` every `seconds`, never two at once, logging (not raising) its errors."""

        def run() -> None:
            try:
                func()
            except Exception:
                log.exception("job %s failed", job_id)

        self._scheduler.add_job(
            run,
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            next_run_time=datetime.now(UTC),
        )

    def wake(self, job_id: str = DISPATCH_JOB) -> None:
        """Run a job now instead of at its next interval (a request became due)."""
        job = self._scheduler.get_job(job_id)
        if job is not None and self._scheduler.running:
            job.modify(next_run_time=datetime.now(UTC))

    def job_ids(self) -> list[str]:
        """Name the jobs registered in this process."""
        return sorted(job.id for job in self._scheduler.get_jobs())

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
