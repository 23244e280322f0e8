"""The dispatch job runs again when the next message is due (a paced sender's next slot), not
only every interval: a paced queue goes out at its pace, not in a burst every 5 seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.usecases.inputs import RequestCreate
from scheduler import dispatch
from scheduler.jobs import DISPATCH_JOB, Scheduler
from store.db import Database
from store.models import Message
from tests.helpers import ALICE, Engine


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    return Engine(db, clock, region="US", cooldown_days=0)


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    running = Scheduler()
    yield running
    running.shutdown(wait=True, grace_seconds=5)


def _queue(engine: Engine, phone: str, due_in: timedelta) -> None:
    request = engine.ops.create(engine.ws, RequestCreate(name="Ann", phone=phone), ALICE)
    with engine.db.write() as session:
        message = session.exec(select(Message).where(Message.request_id == request.id)).one()
        message.due_at = engine.clock.now() + due_in
        session.add(message)


def test_how_long_until_the_next_message_is_due(engine: Engine) -> None:
    assert engine.dispatcher.seconds_until_next_due() is None
    _queue(engine, "+33 6 15 55 0301", timedelta(seconds=2))
    assert engine.dispatcher.seconds_until_next_due() == 2.0
    _queue(engine, "+33 6 15 55 0302", timedelta(seconds=-30))
    assert engine.dispatcher.seconds_until_next_due() == 0.0


def test_waking_moves_a_job_sooner_never_later(scheduler: Scheduler) -> None:
    scheduler.add("job", lambda: None, 60)
    scheduler.start()
    assert _wait_for(lambda: _in(scheduler, "job") > 30)  # its first run is done
    scheduler.wake_in(2, "job")
    assert 0 < _in(scheduler, "job") <= 2
    scheduler.wake_in(40, "job")
    assert _in(scheduler, "job") <= 2


def test_after_a_run_the_job_comes_back_for_the_next_due_message(
    engine: Engine, scheduler: Scheduler
) -> None:
    _queue(engine, "+33 6 15 55 0401", timedelta(0))
    _queue(engine, "+33 6 15 55 0402", timedelta(seconds=2))  # e.g. its sender's next slot
    dispatch.register(scheduler, engine.dispatcher)
    scheduler.start()
    # The first run (at once) sends the message due now, then asks to come back in 2 s,
    # before the 5 s interval.
    assert _wait_for(lambda: "+33615550401" in engine.console_out.getvalue())
    first_run = datetime.now(UTC)
    # The interval alone would come back 5 s after the first run.
    soon = first_run + timedelta(seconds=3.5)
    assert _wait_for(lambda: (scheduler.next_run(DISPATCH_JOB) or soon) < soon)
    assert "+33615550402" not in engine.console_out.getvalue()


def _in(scheduler: Scheduler, job_id: str) -> float:
    when = scheduler.next_run(job_id)
    assert when is not None
    return (when - datetime.now(UTC)).total_seconds()


def _wait_for(condition: object, timeout: float = 10.0) -> bool:
    """Poll an observable effect of a job run (not a schedule) until it shows."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
