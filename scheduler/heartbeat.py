"""The heartbeat: one INFO line every few minutes saying the scheduler is alive, and what waits.

With APScheduler's own lines at WARNING (bot/logging_setup.py) an idle scheduler is silent;
this line says it still runs, and how big and how late the queue is.
"""

from __future__ import annotations

import logging

from sqlalchemy import func
from sqlmodel import select

from bot.clock import Clock
from bot.domain.status import Status
from bot.health import lags
from bot.usecases.event_log import fields
from scheduler.jobs import Scheduler
from store.db import Database
from store.models import Message

log = logging.getLogger("reviewops.heartbeat")

HEARTBEAT_SECONDS = 300.0


def beat(db: Database, clock: Clock) -> None:
    """Log the queue's size, how late its oldest due message is, and the Slack outbox's lag."""
    with db.read() as session:
        queued = session.exec(
            select(func.count()).where(Message.status == Status.QUEUED.value)
        ).one()
        waited = lags(session, clock.now())
    log.info(
        "alive: %d message(s) queued, oldest due %.0fs ago; Slack outbox lag %.0fs, "
        "webhook apply lag %.0fs",
        queued,
        waited.oldest_due,
        waited.outbox,
        waited.inbox,
        extra=fields(
            "heartbeat",
            queued=int(queued),
            oldest_due_seconds=round(waited.oldest_due, 1),
            outbox_lag_seconds=round(waited.outbox, 1),
            inbox_lag_seconds=round(waited.inbox, 1),
        ),
    )


def register(scheduler: Scheduler, db: Database, clock: Clock) -> None:
    """Beat every HEARTBEAT_SECONDS, the first one after the first interval."""
    scheduler.add(
        "heartbeat", lambda: beat(db, clock), HEARTBEAT_SECONDS, first_in=HEARTBEAT_SECONDS
    )
