"""Results recorded a batch at a time: the sends that finished while the previous record ran
are stored in one write transaction, one bad record loses only itself, nothing is sent twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.clock import FrozenClock
from bot.delivery.base import Outcome, SendResult
from bot.delivery.twilio import TwilioSender
from bot.usecases.batches import Batches
from bot.usecases.dispatcher import SENDING_LEASE, Claim, Dispatcher
from bot.usecases.inputs import RequestCreate
from bot.usecases.recording import Finished
from store.db import Database
from store.models import Event, Message, ReviewRequest
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE, Engine

SID = "AC" + "4" * 32
TOKEN = "batch-token"
FROM = "+15005550006"


def _poll(done: Callable[[], bool]) -> None:
    """Wait for other threads' progress (not a schedule)."""
    while not done():
        threading.Event().wait(0.005)


def test_what_is_handed_in_meanwhile_goes_in_the_next_batch_and_each_gets_its_result() -> None:
    first_running, release_first = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def run(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        if items == [0]:
            first_running.set()
            release_first.wait(10)
        if 13 in items:
            raise ValueError("the batch of 13 failed")
        return [i * 10 for i in items]

    queue: Batches[int, int] = Batches(run, limit=8)
    results: dict[int, int | str] = {}

    def hand_in(item: int) -> None:
        try:
            results[item] = queue.do(item)
        except ValueError as error:
            results[item] = str(error)

    threads = [threading.Thread(target=hand_in, args=(0,))]
    threads[0].start()
    first_running.wait(10)
    for item in (1, 2, 3):
        threads.append(threading.Thread(target=hand_in, args=(item,)))
        threads[-1].start()
    _poll(lambda: queue.waiting == 3)
    release_first.set()
    for t in threads:
        t.join(10)
    # Nothing waited for a batch to fill: 0 went alone, 1-3 together as soon as it ended.
    assert batches == [[0], [1, 2, 3]]
    assert results == {0: 0, 1: 10, 2: 20, 3: 30}

    hand_in(13)  # alone: a batch of one, run at once in this thread
    assert results[13] == "the batch of 13 failed" and batches[-1] == [13]
    hand_in(4)  # a failed batch leaves the next one working
    assert results[4] == 40


def test_many_threads_each_get_their_own_result_in_batches_of_at_most_the_limit() -> None:
    # Each batch's end wakes only its own threads and the next runner: none may be left
    # waiting with nobody to run its batch.
    batches: list[list[int]] = []

    def run(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        threading.Event().wait(0.001)  # a commit's length, so threads pile up meanwhile
        return [i * 10 for i in items]

    queue: Batches[int, int] = Batches(run, limit=5)
    results: dict[int, int] = {}

    def hand_in(item: int) -> None:
        results[item] = queue.do(item)

    threads = [threading.Thread(target=hand_in, args=(i,), daemon=True) for i in range(200)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20  # all of them, not 20 s each: a stuck one fails soon
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not [t for t in threads if t.is_alive()]
    assert results == {i: i * 10 for i in range(200)}
    assert sorted(i for b in batches for i in b) == list(range(200))
    assert max(len(b) for b in batches) <= 5 and len(batches) < 200  # some ran together


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    return Engine(db, clock, region="US", cooldown_days=0)


def _sending(engine: Engine, count: int) -> list[Claim]:
    """Queue `count` texts, claim them and hand them over (committed `sending`)."""
    for i in range(count):
        phone = f"+3361555{8000 + i:04d}"
        engine.ops.create(engine.ws, RequestCreate(name=f"C{i}", phone=phone, method="sms"), ALICE)
    claims = engine.dispatcher.claim_due()
    assert len(claims) == count
    for claim in claims:
        assert engine.dispatcher.start_sending(claim) is not None
    return claims


def _commits(db: Database) -> list[int]:
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    return commits


def _statuses(db: Database) -> dict[int, str]:
    with db.read() as session:
        return {m.id or 0: m.status for m in session.exec(select(Message)).all()}


def _sent(claim: Claim) -> Finished:
    sid = f"SM{claim.message_id:032d}"
    return Finished(claim, SendResult(Outcome.SENT, "twilio", provider_id=sid))


def test_several_results_are_recorded_in_one_transaction(engine: Engine) -> None:
    claims = _sending(engine, 5)
    commits = _commits(engine.db)
    recorded = engine.dispatcher.record_results([_sent(c) for c in claims])
    assert len(commits) == 1
    assert [r.status if r else None for r in recorded] == ["sent"] * 5
    assert set(_statuses(engine.db).values()) == {"sent"}
    with engine.db.read() as session:
        sent = session.exec(select(Event.message_id).where(Event.kind == "sent")).all()
        requests = session.exec(select(Message.request_id)).all()
    assert Counter(sent) == Counter(c.message_id for c in claims)
    assert len(set(requests)) == 5
    with engine.db.read() as session:  # each request's status followed its own message
        assert {r.status for r in session.exec(select(ReviewRequest)).all()} == {"sent"}


def test_one_bad_record_loses_only_itself_and_stays_sending_until_the_reaper(
    engine: Engine, clock: FrozenClock
) -> None:
    good, lost, refused, also_good = _sending(engine, 4)
    commits = _commits(engine.db)
    # A claim lost meanwhile (another token now) and an answer the database cannot store.
    unstorable = SendResult(Outcome.SENT, "twilio", provider_id=object())  # type: ignore[arg-type]
    batch = [
        _sent(good),
        _sent(Claim(lost.message_id, "someone-else")),
        Finished(refused, unstorable),
        _sent(also_good),
    ]
    recorded = engine.dispatcher.record_results(batch)
    assert len(commits) == 1
    assert [r is not None for r in recorded] == [True, False, False, True]
    statuses = _statuses(engine.db)
    assert statuses[good.message_id] == statuses[also_good.message_id] == "sent"
    assert statuses[lost.message_id] == statuses[refused.message_id] == "sending"
    with engine.db.read() as session:
        events = Counter(session.exec(select(Event.message_id).where(Event.kind == "sent")).all())
    assert events == Counter({good.message_id: 1, also_good.message_id: 1})

    # As when a record is lost: the reaper makes them `unknown`; nothing is sent again.
    clock.advance(SENDING_LEASE + SENDING_LEASE)
    assert engine.dispatcher.reap() == (0, 2)
    assert engine.dispatcher.run_until_idle() == 0
    statuses = _statuses(engine.db)
    assert statuses[lost.message_id] == statuses[refused.message_id] == "unknown"


@pytest.fixture
def worker_of(database_url: str) -> Iterator[list[Dispatcher]]:
    made: list[Dispatcher] = []
    yield made
    for worker in made:
        worker.close()
        worker.db.dispose()


def test_stop_finishes_the_batched_sends_in_flight_and_sends_nothing_twice(
    engine: Engine, database_url: str, worker_of: list[Dispatcher]
) -> None:
    for i in range(60):
        phone = f"+3361555{9000 + i:04d}"
        engine.ops.create(engine.ws, RequestCreate(name=f"C{i}", phone=phone, method="sms"), ALICE)

    def worker(fake: tw.FakeTwilio) -> Dispatcher:
        sender = TwilioSender(SID, TOKEN, api_url=fake.url, sms_from=FROM, connections=8)
        made = Dispatcher(
            engine.ops,
            senders={"sms": sender},
            composer=engine.dispatcher.composer,
            db=Database(database_url, threads=8),
            concurrency=8,
        )
        worker_of.append(made)
        return made

    with tw.FakeTwilio(SID, TOKEN) as fake:
        first = worker(fake)
        done: list[int] = []
        runner = threading.Thread(target=lambda: done.append(first.run_until_idle()))
        runner.start()
        _poll(lambda: len(fake.messages) >= 10 or not runner.is_alive())
        first.stop()
        runner.join(30)
        assert not runner.is_alive()
        statuses = Counter(_statuses(engine.db).values())
        # Every send in flight was recorded; nothing is left half-way.
        assert statuses["claimed"] == statuses["sending"] == 0, statuses
        assert statuses["sent"] == len(fake.messages) == done[0]
        rest = worker(fake)
        assert rest.run_until_idle() == statuses["queued"]
        sent_to = Counter(m["To"] for m in fake.messages)
    assert len(sent_to) == 60 and max(sent_to.values()) == 1
    assert Counter(_statuses(engine.db).values()) == Counter({"sent": 60})


def test_claims_handed_in_together_start_in_one_transaction_a_lost_one_alone_skipped(
    engine: Engine,
) -> None:
    for i in range(4):
        phone = f"+3361555{7000 + i:04d}"
        engine.ops.create(engine.ws, RequestCreate(name=f"C{i}", phone=phone, method="sms"), ALICE)
    one, lost, two, three = engine.dispatcher.claim_due()
    commits = _commits(engine.db)
    started = engine.dispatcher.start_all([one, Claim(lost.message_id, "someone-else"), two, three])
    assert len(commits) == 1
    assert [o.message_id if o else None for o in started] == [
        one.message_id,
        None,
        two.message_id,
        three.message_id,
    ]
    statuses = _statuses(engine.db)
    assert [statuses[c.message_id] for c in (one, lost, two, three)] == [
        "sending",
        "claimed",
        "sending",
        "sending",
    ]


def _start_statements(db: Database) -> list[int]:
    """How many rows each executed START_SENDING carried (one UPDATE call, many rows)."""
    sizes: list[int] = []

    def seen(_conn, _cursor, statement: str, params, _context, executemany: bool) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("UPDATE message SET status") and "claim_token" in statement:
            if "body" in statement:
                sizes.append(len(params) if executemany else 1)

    event.listen(db.engine, "before_cursor_execute", seen)
    return sizes


def test_the_claims_started_together_move_to_sending_in_one_statement(engine: Engine) -> None:
    for i in range(5):
        phone = f"+3361555{6000 + i:04d}"
        engine.ops.create(engine.ws, RequestCreate(name=f"C{i}", phone=phone, method="sms"), ALICE)
    claims = engine.dispatcher.claim_due()
    sizes = _start_statements(engine.db)
    started = engine.dispatcher.start_all(claims)
    assert sizes == [5]
    assert all(started) and set(_statuses(engine.db).values()) == {"sending"}
    with engine.db.read() as session:
        bodies = session.exec(select(Message.body, Message.segments)).all()
    assert all(body and "C" in body and segments == 1 for body, segments in bodies)


def test_a_row_that_does_not_move_undoes_the_batch_and_only_it_stays_claimed(
    engine: Engine,
) -> None:
    if engine.db.dialect != "sqlite":
        pytest.skip("the row that does not move is made by a SQLite trigger")
    for i in range(3):
        phone = f"+3361555{5000 + i:04d}"
        engine.ops.create(engine.ws, RequestCreate(name=f"C{i}", phone=phone, method="sms"), ALICE)
    one, stuck, two = engine.dispatcher.claim_due()
    with engine.db.write() as session:  # the database refuses that one row's move, silently
        session.connection().exec_driver_sql(
            "CREATE TRIGGER hold_one BEFORE UPDATE OF status ON message "
            f"WHEN OLD.id = {stuck.message_id} AND NEW.status = 'sending' "
            "BEGIN SELECT RAISE(IGNORE); END"
        )
    sizes = _start_statements(engine.db)
    started = engine.dispatcher.start_all([one, stuck, two])
    assert sizes == [3, 1, 1, 1]  # the batch, then each alone
    assert [o.message_id if o else None for o in started] == [
        one.message_id,
        None,
        two.message_id,
    ]
    statuses = _statuses(engine.db)
    assert [statuses[c.message_id] for c in (one, stuck, two)] == ["sending", "claimed", "sending"]
