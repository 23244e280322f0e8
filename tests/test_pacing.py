"""Per-sender pacing at work: slots shared by workers, 429s, metrics, `show`, the schema."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.delivery.twilio import TwilioSender
from bot.domain import pacing
from bot.domain.pacing import SenderSetup, parse_rates
from bot.domain.policy import WorkspacePolicy
from bot.metrics import Metrics
from bot.settings import Settings
from bot.usecases.dispatcher import Dispatcher
from bot.usecases.inputs import RequestCreate
from bot.usecases.pacing import Pacing
from handlers.blocks.detail import SenderInfo, detail_reply
from store import db as store_db
from store import pacing as pace_store
from store.db import Database
from store.models import Message, SenderPace
from tests.conftest import START
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE, Engine, cli_invoker

SID = "AC" + "0" * 32
TOKEN = "secret-token"
FROM = "+15005550006"  # a US long code: 1 segment per second unless set
SECOND = timedelta(seconds=1)
NANP_EVENING = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)


@pytest.fixture
def twilio(clock: FrozenClock) -> Iterator[tw.FakeTwilio]:
    # The fake stamps what it receives with the injected clock.
    with tw.FakeTwilio(SID, TOKEN, now=clock.now) as fake:
        yield fake


def sms_sender(fake: tw.FakeTwilio) -> TwilioSender:
    return TwilioSender(SID, TOKEN, api_url=fake.url, sms_from=FROM)


def paced_worker(engine: Engine, fake: tw.FakeTwilio, rates: str = "", **kw: Any) -> Dispatcher:
    """A worker on its own engine, paced like `create_app` paces it."""
    return Dispatcher(
        engine.ops,
        senders={"sms": sms_sender(fake)},
        composer=engine.dispatcher.composer,
        db=Database(engine.db.url),
        pacing=Pacing(engine.ops.journal, parse_rates(rates), SenderSetup(sms_from=FROM)),
        **kw,
    )


def create(engine: Engine, phone: str) -> int:
    data = RequestCreate(name="Jane", phone=phone, method="sms", when="now")
    return engine.ops.create(engine.ws, data, ALICE).number


def received_at(fake: tw.FakeTwilio) -> list[datetime]:
    return sorted(parsedate_to_datetime(r["date_created"]) for r in fake.accepted)


def message_of(engine: Engine, number: int) -> Message:
    return engine.ops.show(engine.ws, number).messages[0]


def pace_row(engine: Engine, key: str = FROM) -> SenderPace:
    with engine.db.read() as session:
        row = session.get(SenderPace, key)
    assert row is not None
    return row


@pytest.fixture
def engine(database_url: str, clock: FrozenClock) -> Iterator[Engine]:
    db = Database(database_url)
    yield Engine(db, clock, region="US", cooldown_days=0)
    db.dispose()


# --- shared by workers ---------------------------------------------------------------------


def test_two_workers_never_exceed_the_pace_together(
    engine: Engine, clock: FrozenClock, twilio: tw.FakeTwilio
) -> None:
    count = 12
    numbers = [create(engine, f"+3361555{i:04d}") for i in range(count)]
    workers = [paced_worker(engine, twilio, batch_size=5) for _ in range(2)]

    def run_both() -> None:
        barrier = threading.Barrier(2)

        def run(worker: Dispatcher) -> None:
            barrier.wait()
            worker.run_until_idle()

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run_both()
    # Each message reserved one slot, once: a second apart, the first one sent at once.
    waiting = [message_of(engine, n) for n in numbers]
    slots = sorted(m.due_at for m in waiting if m.status == "queued")
    assert slots == [START + i * SECOND for i in range(1, count)]
    assert all(m.paced_at == m.due_at for m in waiting if m.status == "queued")
    for _ in range(4 * count):
        clock.advance(SECOND / 4)
        run_both()
    stamps = received_at(twilio)
    assert Counter(m["To"] for m in twilio.messages) == Counter(
        f"+3361555{i:04d}" for i in range(count)
    )
    assert stamps == [START + i * SECOND for i in range(count)]  # 1/s, not faster, not slower
    assert {message_of(engine, n).status for n in numbers} == {"sent"}
    for worker in workers:
        worker.db.dispose()


def test_a_worker_taking_a_slot_holds_the_sender_until_it_commits(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: its write transaction is the lock")
    first, second = Database(database_url), Database(database_url)
    try:
        with first.write() as session:  # the sender's row exists: only the lock can hold it
            pace_store.locked_pace(session, FROM, 1.0, START)
        with first.write() as holding:
            pace_store.locked_pace(holding, FROM, 1.0, START)
            with pytest.raises(OperationalError, match="lock timeout"), second.write() as other:
                other.execute(text("SET LOCAL lock_timeout = '50ms'"))
                pace_store.locked_pace(other, FROM, 1.0, START)
        with second.write() as other:  # free once the first committed
            assert pace_store.locked_pace(other, FROM, 1.0, START).key == FROM
    finally:
        first.dispose()
        second.dispose()


def test_a_long_sms_takes_its_segments_of_the_pace(
    database_url: str, clock: FrozenClock, twilio: tw.FakeTwilio
) -> None:
    db = Database(database_url)
    # An emoji makes it UCS-2: 67 characters a segment once it is over 70.
    long_text = "Hi {{ name }} \N{SLIGHTLY SMILING FACE} " + "tell us how it went! " * 4
    engine = Engine(db, clock, region="US", cooldown_days=0, sms_template=long_text)
    first, second = create(engine, "+33615550001"), create(engine, "+33615550002")
    worker = paced_worker(engine, twilio)
    worker.run_until_idle()
    assert message_of(engine, first).status == "sent"
    body = twilio.messages[0]["Body"]
    segments = pacing.cost("sms", body)
    assert segments >= 2
    assert message_of(engine, second).due_at == START + segments * SECOND
    worker.db.dispose()
    db.dispose()


# --- a 429 slows the sender ----------------------------------------------------------------


def test_a_429_slows_the_sender_and_quiet_minutes_bring_it_back(
    engine: Engine, clock: FrozenClock, twilio: tw.FakeTwilio
) -> None:
    # Twilio's magic numbers (+1 500) may be in any North American zone, Guam to St John's:
    # the recipient's hours hold in all of them only about 22:00-00:30 UTC (14:00 in LA).
    clock.set(NANP_EVENING)
    worker = paced_worker(engine, twilio)
    refused = create(engine, tw.SCENARIO_RATE_LIMITED)
    worker.run_until_idle()
    assert message_of(engine, refused).status == "queued"  # nothing reached Twilio: retried
    pace = pace_row(engine)
    assert (pace.rate, pace.throttled) == (0.5, 1)
    # The sender waits as Twilio asked, then sends at half its pace.
    retry_after = timedelta(seconds=tw.RATE_LIMIT_RETRY_AFTER)
    assert pace.next_free_at == NANP_EVENING + retry_after
    later = [create(engine, f"+1415555000{i}") for i in range(2)]
    worker.run_until_idle()
    due = [message_of(engine, n).due_at for n in later]
    assert due == [NANP_EVENING + retry_after, NANP_EVENING + retry_after + 2 * SECOND]
    # The metrics say so.
    scraped = generate_latest(Metrics(engine.db, clock=clock).registry).decode()
    assert f'reviewops_sender_rate{{sender="{FROM}"}} 0.5' in scraped
    assert f'reviewops_sender_queued{{sender="{FROM}"}} 2.0' in scraped
    assert f'reviewops_sender_lag_seconds{{sender="{FROM}"}} 11.0' in scraped
    # Two quiet minutes later it is back at 1/s.
    engine.ops.cancel(engine.ws, [refused], ALICE)  # or it would be refused again and again
    clock.advance(2 * pacing.QUIET_PERIOD)
    fresh = [create(engine, f"+1415555100{i}") for i in range(2)]
    worker.run_until_idle()
    assert pace_row(engine).rate == 1.0
    assert len(twilio.accepted) == 2 + 1  # the two held ones, then the first fresh one
    assert message_of(engine, fresh[1]).due_at == clock.now() + SECOND
    worker.db.dispose()


# --- show #N -------------------------------------------------------------------------------


def test_show_says_when_a_paced_message_is_expected_to_go(
    engine: Engine,
    twilio: tw.FakeTwilio,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    numbers = [create(engine, f"+3361555000{i}") for i in range(4)]
    worker = paced_worker(engine, twilio)
    worker.run_until_idle()
    last = numbers[-1]
    detail = engine.ops.show(engine.ws, last)
    paced = detail.paced[detail.messages[0].id or 0]
    assert (paced.expected_at, paced.sender, paced.rate, paced.ahead) == (
        START + 3 * SECOND,
        FROM,
        1.0,
        2,
    )
    assert engine.ops.show(engine.ws, numbers[0]).paced == {}  # sent at once
    reply = detail_reply(detail, SenderInfo())
    text = str(reply.blocks)
    assert f"expected about <!date^{int((START + 3 * SECOND).timestamp())}^" in text
    assert f"(sender {FROM} sends 1 message/s; 2 ahead)" in text
    invoke = cli_invoker(database_url, monkeypatch, tmp_path, region="US")
    shown = invoke("show", str(last))
    assert shown.exit_code == 0, shown.output
    assert f"expected about 2026-11-23 10:00 UTC (sender {FROM} sends 1 message/s; 2 ahead)" in (
        shown.output
    )
    worker.db.dispose()


# --- wiring and schema ---------------------------------------------------------------------


def test_the_app_paces_its_twilio_sender(
    database_url: str, clock: FrozenClock, twilio: tw.FakeTwilio
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=database_url,
        DEFAULT_REGION="US",
        TWILIO_ACCOUNT_SID=SID,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_FROM=FROM,
        TWILIO_API_URL=twilio.url,
        SENDER_RATES=f"{FROM}=0.5",
    )
    app = create_app(settings, clock=clock)
    try:
        workspace = app.ops.ensure_workspace("T0001", "Acme")
        assert workspace.id is not None
        base = WorkspacePolicy.model_validate(workspace.policy)
        policy = {**base.model_dump(), "send_window": "always", "cooldown_days": 0}
        app.ops.update_policy(workspace.id, WorkspacePolicy.model_validate(policy), ALICE)
        for i in range(2):
            data = RequestCreate(name="Jane", phone=f"+3361555000{i}", method="sms", when="now")
            app.ops.create(workspace.id, data, ALICE)
        app.dispatcher.run_until_idle()
        assert len(twilio.messages) == 1
        with app.db.read() as session:
            due = session.exec(select(Message.due_at).where(Message.status == "queued")).one()
        assert due == START + 2 * SECOND  # 0.5 message/s, as set
    finally:
        app.close()


def _pace_schema(url: str) -> tuple[bool, set[str]]:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        columns = {c["name"] for c in found.get_columns("message")}
        return "sender_pace" in found.get_table_names(), columns & {"pace_key", "paced_at"}
    finally:
        engine.dispose()


def test_the_pacing_migration_goes_down_and_up_again(engine: Engine, database_url: str) -> None:
    number = create(engine, "+33615550001")
    assert _pace_schema(database_url) == (True, {"pace_key", "paced_at"})
    engine.db.dispose()
    store_db.downgrade(database_url, "0004")
    assert _pace_schema(database_url) == (False, set())
    store_db.upgrade(database_url)
    assert _pace_schema(database_url) == (True, {"pace_key", "paced_at"})
    with engine.db.read() as session:
        kept = session.exec(select(Message).order_by(col(Message.id))).all()
    assert [m.status for m in kept] == ["queued"]  # the messages survive the way down
    assert message_of(engine, number).paced_at is None


def test_a_message_sent_at_once_keeps_the_sender_it_went_through(
    engine: Engine, twilio: tw.FakeTwilio, clock: FrozenClock
) -> None:
    clock.set(NANP_EVENING)  # day in California
    # Replies are matched to the sender a message went out through (store/replies.py): the
    # start writes it with `sending`, also when the sender is not paced.
    numbers = [create(engine, f"+1 415 555 {2000 + i:04d}") for i in range(3)]
    worker = paced_worker(engine, twilio, f"{FROM}=off", concurrency=4)
    assert worker.run_until_idle() == 3
    keys = {message_of(engine, n).pace_key for n in numbers}
    assert keys == {FROM} and len(twilio.accepted) == 3
