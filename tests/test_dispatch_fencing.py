"""Every state move of the dispatcher is fenced: a frozen worker or a second reaper changes nothing.

A worker that stalls between its checks and its move (a long GC, a stopped container) must
find its claim gone; two reapers on the same database must give up on a message once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.compose import Composer
from bot.delivery.base import Outcome, OutgoingMessage, SendResult
from bot.delivery.twilio import TwilioSender
from bot.usecases.dispatcher import CLAIM_LEASE, Dispatcher
from bot.usecases.feedback import Feedback
from bot.usecases.inputs import RequestCreate
from bot.usecases.notifier import RecordingNotifier
from bot.usecases.reports import Applied
from store.db import Database
from store.models import Event, Message
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE, PUBLIC_URL, Engine

SID = "AC" + "1" * 32
TOKEN = "secret-token"
FROM = "+15005550006"


@pytest.fixture
def twilio() -> Iterator[tw.FakeTwilio]:
    with tw.FakeTwilio(SID, TOKEN) as fake:
        yield fake


def twilio_sender(fake: tw.FakeTwilio) -> TwilioSender:
    return TwilioSender(SID, TOKEN, api_url=fake.url, sms_from=FROM, whatsapp_from=FROM)


class StallingComposer(Composer):
    """A real composer that lets the test act while the worker is between check and move."""

    def __init__(self, stall: Callable[[], None]) -> None:
        super().__init__(public_url=PUBLIC_URL, email_from="shop@example.test")
        self.stall = stall

    def compose(self, *args: Any, **kwargs: Any) -> OutgoingMessage:
        self.stall()
        return super().compose(*args, **kwargs)


def worker(setup: Engine, url: str, sender: TwilioSender, composer: Composer) -> Dispatcher:
    # Each worker has its own engine, so its own connections and transactions.
    return Dispatcher(setup.ops, senders={"sms": sender}, composer=composer, db=Database(url))


def only_postgres(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent workers are the PostgreSQL scale-out case")


def test_worker_past_its_claim_lease_sends_nothing_once_reclaimed(
    database_url: str, clock: FrozenClock, twilio: tw.FakeTwilio
) -> None:
    setup = Engine(Database(database_url), clock, region="US")
    setup.ops.create(setup.ws, RequestCreate(name="A", phone="+33615550100", method="sms"), ALICE)
    sender = twilio_sender(twilio)
    a = worker(setup, database_url, sender, setup.dispatcher.composer)
    b = worker(setup, database_url, sender, setup.dispatcher.composer)
    [claim_a] = a.claim_due()
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))  # A froze past its lease
    assert b.reap() == (1, 0)
    assert b.run_until_idle() == 1
    assert a.start_sending(claim_a) is None  # A wakes up: its claim is gone
    assert len(twilio.messages) == 1


def test_worker_stalled_inside_its_hand_over_is_fenced_out(
    database_url: str, clock: FrozenClock, twilio: tw.FakeTwilio
) -> None:
    only_postgres(database_url)
    setup = Engine(Database(database_url), clock, region="US")
    setup.ops.create(setup.ws, RequestCreate(name="A", phone="+33615550100", method="sms"), ALICE)
    sender = twilio_sender(twilio)
    b = worker(setup, database_url, sender, setup.dispatcher.composer)
    handed_by_b: list[int] = []

    def meanwhile() -> None:
        # A has checked its claim and stalls past the lease; the reaper and B run now.
        clock.advance(CLAIM_LEASE + timedelta(seconds=1))
        b.reap()
        handed_by_b.append(b.run_until_idle())

    a = worker(setup, database_url, sender, StallingComposer(meanwhile))
    handed_by_a = a.run_until_idle()
    assert len(twilio.messages) == 1
    assert handed_by_a + sum(handed_by_b) == 1
    with setup.db.read() as session:
        assert session.exec(select(Message.status)).all() == ["sent"]


def test_two_reapers_give_up_on_each_abandoned_send_once(
    database_url: str, clock: FrozenClock
) -> None:
    only_postgres(database_url)
    setup = Engine(Database(database_url), clock, region="US")
    for i in range(200):
        setup.ops.create(
            setup.ws, RequestCreate(name=f"C{i}", phone=f"+3361555{i:04d}", method="sms"), ALICE
        )
    claims = setup.dispatcher.claim_due() + setup.dispatcher.claim_due()
    claims += setup.dispatcher.claim_due() + setup.dispatcher.claim_due()
    for claim in claims:
        assert setup.dispatcher.start_sending(claim) is not None  # then every worker dies
    clock.advance(timedelta(minutes=10))
    unused = TwilioSender(SID, TOKEN, api_url="http://127.0.0.1:9", sms_from=FROM)
    reapers = [worker(setup, database_url, unused, setup.dispatcher.composer) for _ in range(2)]
    barrier = threading.Barrier(2)
    stuck = Counter[int]()

    def run(index: int) -> None:
        barrier.wait()
        stuck[index] = reapers[index].reap()[1]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stuck[0] + stuck[1] == 200
    with setup.db.read() as session:
        events = session.exec(select(Event.message_id).where(Event.kind == "unknown")).all()
        assert set(session.exec(select(Message.status)).all()) == {"unknown"}
    assert len(events) == 200 and len(set(events)) == 200
    assert isinstance(setup.notifier, RecordingNotifier)
    alerts = [c for _, c in setup.notifier.changes if c.kind == "unknown"]
    assert len(alerts) == 200


def test_a_lost_answer_after_a_callback_settled_the_message_changes_nothing(
    db: Database, clock: FrozenClock, twilio: tw.FakeTwilio
) -> None:
    engine = Engine(db, clock, senders={"sms": twilio_sender(twilio)}, region="US")
    engine.ops.create(engine.ws, RequestCreate(name="A", phone="+33615550100", method="sms"), ALICE)
    [claim] = engine.dispatcher.claim_due()
    assert engine.dispatcher.start_sending(claim) is not None
    # Twilio stored it and said "delivered" before the answer to the send itself was lost.
    delivered = Feedback(engine.ops).twilio_status(
        sid="SM" + "f" * 32, to="+33615550100", status="delivered"
    )
    assert delivered is Applied.APPLIED
    lost = SendResult(Outcome.UNKNOWN, "twilio", reason="Twilio did not answer in time")
    engine.dispatcher.record_result(claim, lost)
    with db.read() as session:
        message = session.exec(select(Message)).one()
        unknowns = session.exec(select(Event).where(Event.kind == "unknown")).all()
    assert (message.status, message.error_reason, unknowns) == ("delivered", None, [])
    assert isinstance(engine.notifier, RecordingNotifier)
    assert [c.kind for _, c in engine.notifier.changes if c.alert] == []
