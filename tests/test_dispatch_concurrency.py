"""Sends in flight (DISPATCH_CONCURRENCY): many at once, each message still sent exactly once.

The dispatcher's threads talk to the fake Twilio over real sockets through the twilio SDK;
what counts is what the fake received (each `To` once) and what the database says after.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import select

from bot.clock import FrozenClock
from bot.delivery.base import OutgoingMessage, SendResult
from bot.delivery.twilio import TwilioSender
from bot.settings import Settings
from bot.usecases.dispatcher import SENDING_LEASE, Dispatcher
from bot.usecases.inputs import RequestCreate
from store.db import Database
from store.models import Message
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE, Engine

SID = "AC" + "3" * 32
TOKEN = "concurrency-token"
FROM = "+15005550006"
THREADS = 8


@pytest.fixture
def setup(database_url: str, clock: FrozenClock) -> Iterator[Engine]:
    db = Database(database_url)
    yield Engine(db, clock, region="US", cooldown_days=0)
    db.dispose()


def _queue(setup: Engine, count: int, start: int = 5000, numbers: list[str] | None = None) -> None:
    for i, phone in enumerate(numbers or [f"+33 6 15 55 {start + i:04d}" for i in range(count)]):
        setup.ops.create(setup.ws, RequestCreate(name=f"C{i}", phone=phone, method="sms"), ALICE)


def _sender(fake: tw.FakeTwilio, timeout: float = 10.0) -> TwilioSender:
    return TwilioSender(
        SID, TOKEN, api_url=fake.url, sms_from=FROM, timeout=timeout, connections=THREADS
    )


_made: list[Dispatcher] = []


@pytest.fixture(autouse=True)
def _close_workers() -> Iterator[None]:
    yield
    while _made:
        worker = _made.pop()
        worker.close()
        worker.db.dispose()


def _worker(setup: Engine, url: str, sender: object, concurrency: int = THREADS) -> Dispatcher:
    # Its own engine, sized for its threads, as `reviewops worker` builds it.
    worker = Dispatcher(
        setup.ops,
        senders={"sms": sender},  # type: ignore[dict-item]
        composer=setup.dispatcher.composer,
        db=Database(url, threads=concurrency),
        concurrency=concurrency,
    )
    _made.append(worker)
    return worker


def _statuses(db: Database) -> Counter[str]:
    with db.read() as session:
        return Counter(m.status for m in session.exec(select(Message)).all())


def _once_each(fake: tw.FakeTwilio) -> Counter[str]:
    sent_to = Counter(m["To"] for m in fake.messages)
    assert sent_to and max(sent_to.values()) == 1, sent_to.most_common(3)
    return sent_to


def test_sends_in_flight_send_each_message_exactly_once(setup: Engine, database_url: str) -> None:
    _queue(setup, 60)
    # A little latency, so several sends really are in flight together.
    with tw.FakeTwilio(SID, TOKEN, latency=0.02) as fake:
        worker = _worker(setup, database_url, _sender(fake))
        assert worker.run_until_idle() == 60
        worker.close()
        sent_to = _once_each(fake)
        assert fake.validation_errors == []
    assert len(sent_to) == 60
    assert _statuses(setup.db) == Counter({"sent": 60})


def test_two_workers_with_threads_racing_send_each_message_once(
    setup: Engine, database_url: str
) -> None:
    _queue(setup, 80)
    with tw.FakeTwilio(SID, TOKEN, latency=0.01) as fake:
        workers = [_worker(setup, database_url, _sender(fake)) for _ in range(2)]
        handed: list[int] = []
        go = threading.Barrier(2)

        def run(worker: Dispatcher) -> None:
            go.wait()
            handed.append(worker.run_until_idle())

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for w in workers:
            w.close()
        sent_to = _once_each(fake)
    assert sum(handed) == 80 and len(sent_to) == 80
    assert _statuses(setup.db) == Counter({"sent": 80})


class SendsThenCrashes:
    """A real Twilio send followed by a crash of the sender (a bug after the hand-over)."""

    name = "twilio"

    def __init__(self, real: TwilioSender, crash_for: str) -> None:
        self.real = real
        self.crash_for = crash_for

    def send(self, message: OutgoingMessage) -> SendResult:
        result = self.real.send(message)
        if message.to == self.crash_for:
            raise RuntimeError("the sender crashed after Twilio accepted the message")
        return result


def test_a_hang_or_a_crash_mid_send_leaves_unknown_never_a_resend(
    setup: Engine, database_url: str, clock: FrozenClock
) -> None:
    # Twilio's magic numbers (+1 500) may be in any North American zone, Guam to St John's:
    # the recipient's hours hold in all of them only about 22:00-00:30 UTC (14:00 in LA).
    clock.set(datetime(2026, 11, 23, 22, 0, tzinfo=UTC))
    crashing = "+14155556001"
    _queue(setup, 0, numbers=[f"+1 415 555 {6002 + i:04d}" for i in range(10)])
    _queue(setup, 0, numbers=[tw.SCENARIO_HANG, crashing])
    with tw.FakeTwilio(SID, TOKEN, hang_seconds=30) as fake:
        # The hanging answer outlives the sender's timeout: the message may have gone out.
        # The timeout leaves ordinary answers seconds to spare on a loaded CI machine (0.5 s
        # once timed one out); the hang is released at once when the fake closes.
        sender = SendsThenCrashes(_sender(fake, timeout=3.0), crash_for=crashing)
        worker = _worker(setup, database_url, sender)
        assert worker.run_until_idle() == 12
        assert _statuses(setup.db) == Counter({"sent": 10, "unknown": 2})

        # Later passes, the reaper included, never hand them over again.
        clock.advance(SENDING_LEASE + timedelta(minutes=1))
        assert worker.reap() == (0, 0)
        assert worker.run_until_idle() == 0
        worker.close()
        sent_to = _once_each(fake)
    assert sent_to[tw.SCENARIO_HANG] == 1 and sent_to[crashing] == 1
    assert len(sent_to) == 12


def test_stop_lets_the_sends_in_flight_finish_and_claims_no_more(
    setup: Engine, database_url: str
) -> None:
    _queue(setup, 40)
    with tw.FakeTwilio(SID, TOKEN, latency=0.3) as fake:
        worker = _worker(setup, database_url, _sender(fake), concurrency=4)
        done: list[int] = []
        runner = threading.Thread(target=lambda: done.append(worker.run_until_idle()))
        runner.start()
        while len(fake.messages) < 2 and runner.is_alive():
            threading.Event().wait(0.02)  # polling the fake's progress, not a schedule
        worker.stop()
        runner.join(timeout=30)
        assert not runner.is_alive()
        worker.close()
        first = _once_each(fake)
        statuses = _statuses(setup.db)
        # Nothing half-way: in-flight sends were recorded, nothing is left claimed.
        assert statuses["claimed"] == 0 and statuses["sending"] == 0, statuses
        assert statuses["sent"] == len(first) == done[0]
        assert statuses["queued"] > 0 and statuses["sent"] + statuses["queued"] == 40

        # The next worker sends the rest, and only the rest.
        rest = _worker(setup, database_url, _sender(fake), concurrency=4)
        assert rest.run_until_idle() == statuses["queued"]
        rest.close()
        assert len(_once_each(fake)) == 40


def test_a_concurrency_of_one_sends_one_after_the_other_without_threads(
    setup: Engine, database_url: str, clock: FrozenClock
) -> None:
    numbers = [f"+3361555{7000 + i:04d}" for i in range(5)]
    for phone in numbers:
        _queue(setup, 0, numbers=[phone])
        clock.advance(timedelta(seconds=1))  # due one after the other
    before = {t.name for t in threading.enumerate()}
    with tw.FakeTwilio(SID, TOKEN) as fake:
        worker = _worker(setup, database_url, _sender(fake), concurrency=1)
        assert worker.run_until_idle() == 5
        received = [m["To"] for m in fake.messages]
    started = {t.name for t in threading.enumerate()} - before
    assert not [name for name in started if name.startswith("dispatch")]
    assert received == numbers  # in the order they became due


def test_dispatch_concurrency_comes_from_the_environment() -> None:
    assert Settings(DISPATCH_CONCURRENCY="4").dispatch_concurrency == 4  # type: ignore[call-arg]
    assert Settings().dispatch_concurrency > 1  # sized for a provider's latency
    with pytest.raises(ValidationError):
        Settings(DISPATCH_CONCURRENCY="0")  # type: ignore[call-arg]
