"""APScheduler wiring: a few interval jobs per process, none per request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

DISPATCH_JOB = "dispatch"
# More threads than jobs (each runs one at a time): a job never waits for another's thread,
# so a long dispatch or a burst of webhooks never holds back the Slack outbox.
MAX_JOB_THREADS = 8
STOP_GRACE_SECONDS = 20.0  # in-flight sends finish within it; then the process goes anyway


class Scheduler:
    """Run the dispatcher, the reaper and the Slack outbox on intervals in this process."""

    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=MAX_JOB_THREADS)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone=UTC,
        )
        self._stop_hooks: list[Callable[[], None]] = []
        self._running = 0
        self._idle = threading.Condition()

    def add(
        self, job_id: str, func: Callable[[], object], seconds: float, *, first_in: float = 0.0
    ) -> None:
        """Run `func` every `seconds` (first in `first_in`), never two at once, logging (not
        raising) its errors."""

        def run() -> None:
            with self._idle:
                self._running += 1
            try:
                func()
            except Exception:
                log.exception("job %s failed", job_id)
            finally:
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()

        self._scheduler.add_job(
            run,
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            next_run_time=datetime.now(UTC) + timedelta(seconds=first_in),
        )

    def wake(self, job_id: str = DISPATCH_JOB) -> None:
        """Run a job now instead of at its next interval (a request became due)."""
        job = self._scheduler.get_job(job_id)
        if job is not None and self._scheduler.running:
            job.modify(next_run_time=datetime.now(UTC))

    def wake_in(self, seconds: float, job_id: str = DISPATCH_JOB) -> None:
        """Run a job in `seconds` if that is sooner than its next run (a slot that comes up)."""
        job = self._scheduler.get_job(job_id)
        if job is None or not self._scheduler.running:
            return
        when = datetime.now(UTC) + timedelta(seconds=max(seconds, 0.0))
        if job.next_run_time is None or when < job.next_run_time:
            job.modify(next_run_time=when)

    def next_run(self, job_id: str) -> datetime | None:
        """When a job runs next (None: not scheduled)."""
        job = self._scheduler.get_job(job_id)
        return job.next_run_time if job is not None else None

    def job_ids(self) -> list[str]:
        """Name the jobs registered in this process."""
        return sorted(job.id for job in self._scheduler.get_jobs())

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Call `hook` first when stopping (a job told to wind down, e.g. stop claiming)."""
        self._stop_hooks.append(hook)

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self, wait: bool = True, grace_seconds: float = STOP_GRACE_SECONDS) -> bool:
        """Run no more jobs; wait up to `grace_seconds` for running ones. True when none runs."""
        for hook in self._stop_hooks:
            hook()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if not wait:
            return self.idle()
        deadline = time.monotonic() + grace_seconds
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(timeout=deadline - time.monotonic())
        return self.idle()

    def idle(self) -> bool:
        """Say whether no job is running in this process."""
        with self._idle:
            return self._running == 0
