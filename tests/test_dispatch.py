"""The dispatcher end to end: real senders against the fake Twilio and a real SMTP server."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.delivery.smtp import SmtpSender
from bot.delivery.twilio import TwilioSender
from bot.usecases.dispatcher import Dispatcher
from bot.usecases.inputs import RequestCreate
from store.db import Database
from store.models import Contact, Message
from tests.fakes import twilio_api as tw
from tests.fakes.smtp_server import SmtpServer
from tests.helpers import ALICE, PUBLIC_URL, Engine

SID = "AC" + "0" * 32
TOKEN = "secret-token"
FROM = "+15005550006"
# Twilio's magic numbers (+1 500) are non-geographic: they may be in any North American zone,
# Guam to St John's, so the recipient's hours hold in all of them only about 22:00-00:30 UTC.
NANP_EVENING = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)


@pytest.fixture
def twilio() -> Iterator[tw.FakeTwilio]:
    # The hang is released at once when the fake closes.
    with tw.FakeTwilio(SID, TOKEN, hang_seconds=30.0) as fake:
        yield fake


def twilio_sender(fake: tw.FakeTwilio, timeout: float = 10.0) -> TwilioSender:
    return TwilioSender(
        SID, TOKEN, api_url=fake.url, sms_from=FROM, whatsapp_from=FROM, timeout=timeout
    )


@pytest.fixture
def engine(db: Database, clock: FrozenClock, twilio: tw.FakeTwilio, smtp: SmtpServer) -> Engine:
    # Seconds to spare for ordinary answers on a loaded CI machine (1 s once timed one out
    # and counted it `unknown`); only the hang scenario waits it out.
    sms = twilio_sender(twilio, timeout=3.0)
    email = SmtpSender(smtp.url, default_from="shop@example.test")
    return Engine(db, clock, senders={"sms": sms, "whatsapp": sms, "email": email}, region="US")


def statuses(engine: Engine, number: int) -> list[str]:
    return [m.status for m in engine.ops.show(engine.ws, number).messages]


def test_sms_reaches_twilio_exactly_once_with_callback(
    engine: Engine, twilio: tw.FakeTwilio
) -> None:
    r = engine.ops.create(
        engine.ws, RequestCreate(name="Jane Doe", phone="+33 6 15 55 0100", method="sms"), ALICE
    )
    assert engine.dispatcher.run_until_idle() == 1
    assert engine.dispatcher.run_until_idle() == 0  # nothing left to send: never twice
    assert len(twilio.messages) == 1
    sent = twilio.messages[0]
    assert sent["To"] == "+33615550100"
    assert sent["From"] == FROM
    assert sent["StatusCallback"] == f"{PUBLIC_URL}/webhooks/twilio/status"
    message = engine.ops.show(engine.ws, r.number).messages[0]
    assert "Jane Doe" in sent["Body"] and f"{PUBLIC_URL}/r/{message.token}" in sent["Body"]
    assert "STOP" in sent["Body"]
    assert message.status == "sent" and message.provider == "twilio"
    assert message.provider_id == twilio.accepted[0]["sid"]
    assert twilio.validation_errors == []


def test_whatsapp_uses_prefixed_addresses(engine: Engine, twilio: tw.FakeTwilio) -> None:
    engine.ops.create(
        engine.ws, RequestCreate(name="W", phone="+33 6 15 55 0101", method="whatsapp"), ALICE
    )
    engine.dispatcher.run_until_idle()
    assert twilio.messages[0]["To"] == "whatsapp:+33615550101"
    assert twilio.messages[0]["From"] == f"whatsapp:{FROM}"


def test_email_arrives_with_both_parts_and_unsubscribe_headers(
    engine: Engine, smtp: SmtpServer
) -> None:
    r = engine.ops.create(engine.ws, RequestCreate(name="Bob", email="bob@example.com"), ALICE)
    engine.dispatcher.run_until_idle()
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    email = received.message
    message = engine.ops.show(engine.ws, r.number).messages[0]
    assert email["To"] == "bob@example.com"
    assert email["List-Unsubscribe"] == f"<{PUBLIC_URL}/u/{message.token}>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = {
        part.get_content_type(): part.get_content()
        for part in email.walk()
        if not part.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert f"{PUBLIC_URL}/r/{message.token}" in parts["text/plain"]
    assert message.provider_id == email["Message-ID"]
    assert message.status == "sent"


@pytest.mark.parametrize(
    ("number", "status", "words"),
    [
        (tw.SCENARIO_INVALID, "failed", "invalid"),
        (tw.SCENARIO_NOT_MOBILE, "failed", "mobile"),
        (tw.SCENARIO_SERVER_ERROR_ACCEPTED, "unknown", ""),
        (tw.SCENARIO_HANG, "unknown", ""),
        (tw.SCENARIO_UNSUBSCRIBED, "unsubscribed", "stop"),
    ],
)
def test_provider_outcomes(
    engine: Engine, twilio: tw.FakeTwilio, number: str, status: str, words: str
) -> None:
    engine.clock.set(NANP_EVENING)
    r = engine.ops.create(engine.ws, RequestCreate(name="X", phone=number, method="sms"), ALICE)
    engine.dispatcher.run_until_idle()
    engine.clock.advance(timedelta(hours=2))
    engine.dispatcher.reap()
    engine.dispatcher.run_until_idle()  # an unknown or failed message is never tried again
    message = engine.ops.show(engine.ws, r.number).messages[0]
    assert message.status == status
    assert words in (message.error_reason or "").lower()
    assert len([m for m in twilio.messages if m["To"] == number]) == 1


def test_opted_out_by_provider_marks_contact_and_cancels_waiting(engine: Engine) -> None:
    engine.clock.set(NANP_EVENING)
    first = engine.ops.create(
        engine.ws, RequestCreate(name="X", phone=tw.SCENARIO_UNSUBSCRIBED, method="sms"), ALICE
    )
    engine.dispatcher.run_until_idle()
    with engine.db.read() as session:
        contact = session.exec(
            select(Contact).where(Contact.phone == tw.SCENARIO_UNSUBSCRIBED)
        ).one()
    assert contact.phone_opted_out_at is not None
    assert engine.ops.show(engine.ws, first.number).request.status == "unsubscribed"


def test_rate_limited_is_retried_later_not_lost(
    engine: Engine, twilio: tw.FakeTwilio, clock: FrozenClock
) -> None:
    clock.set(NANP_EVENING)
    r = engine.ops.create(
        engine.ws, RequestCreate(name="X", phone=tw.SCENARIO_RATE_LIMITED, method="sms"), ALICE
    )
    engine.dispatcher.run_until_idle()
    message = engine.ops.show(engine.ws, r.number).messages[0]
    assert message.status == "queued" and message.attempts == 1
    assert message.due_at == clock.now() + timedelta(seconds=tw.RATE_LIMIT_RETRY_AFTER)
    assert engine.dispatcher.run_until_idle() == 0  # not due yet
    clock.advance(timedelta(seconds=tw.RATE_LIMIT_RETRY_AFTER))
    assert engine.dispatcher.run_until_idle() == 1


def test_connection_refused_is_retried(db: Database, clock: FrozenClock) -> None:
    closed = TwilioSender(SID, TOKEN, api_url="http://127.0.0.1:9", sms_from=FROM, timeout=1.0)
    engine = Engine(db, clock, senders={"sms": closed}, region="US")
    r = engine.ops.create(
        engine.ws, RequestCreate(name="X", phone="+33615550100", method="sms"), ALICE
    )
    engine.dispatcher.run_until_idle()
    message = engine.ops.show(engine.ws, r.number).messages[0]
    assert message.status == "queued" and message.attempts == 1


def test_smtp_permanent_refusal_fails_with_reason(engine: Engine) -> None:
    from tests.fakes import smtp_server

    r = engine.ops.create(engine.ws, RequestCreate(name="X", email=smtp_server.REJECT), ALICE)
    engine.dispatcher.run_until_idle()
    message = engine.ops.show(engine.ws, r.number).messages[0]
    assert message.status == "failed" and message.error_code == "550"


def test_paused_and_canceled_are_never_sent(engine: Engine, twilio: tw.FakeTwilio) -> None:
    a = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="+33615550100", method="sms"), ALICE
    )
    b = engine.ops.create(
        engine.ws, RequestCreate(name="B", phone="+33615550101", method="sms"), ALICE
    )
    engine.ops.pause(engine.ws, [a.number], ALICE)
    engine.ops.cancel(engine.ws, [b.number], ALICE)
    engine.clock.advance(timedelta(days=30))
    assert engine.dispatcher.run_until_idle() == 0
    assert twilio.messages == []
    assert statuses(engine, a.number) == ["paused"]
    assert statuses(engine, b.number) == ["canceled"]


def test_pause_after_claim_is_refused_and_cancel_while_claimed_never_sends_twice(
    engine: Engine, twilio: tw.FakeTwilio
) -> None:
    r = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="+33615550100", method="sms"), ALICE
    )
    claims = engine.dispatcher.claim_due()
    assert len(claims) == 1
    refused = engine.ops.pause(engine.ws, [r.number], ALICE).refused
    assert refused == [(r.number, f"#{r.number} is being sent right now, so it can't be paused.")]
    outgoing = engine.dispatcher.start_sending(claims[0])
    assert outgoing is not None
    assert engine.dispatcher.start_sending(claims[0]) is None  # a second start is fenced out


def test_killed_worker_row_becomes_unknown_and_is_not_resent(
    engine: Engine, twilio: tw.FakeTwilio, clock: FrozenClock
) -> None:
    r = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="+33615550100", method="sms"), ALICE
    )
    claims = engine.dispatcher.claim_due()
    assert engine.dispatcher.start_sending(claims[0]) is not None
    # The worker "dies" here: no provider call, no result recorded.
    clock.advance(timedelta(minutes=10))
    released, stuck = engine.dispatcher.reap()
    assert (released, stuck) == (0, 1)
    assert statuses(engine, r.number) == ["unknown"]
    clock.advance(timedelta(days=1))
    assert engine.dispatcher.run_until_idle() == 0
    assert twilio.messages == []


def test_expired_claim_goes_back_to_queue(
    engine: Engine, twilio: tw.FakeTwilio, clock: FrozenClock
) -> None:
    r = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="+33615550100", method="sms"), ALICE
    )
    assert len(engine.dispatcher.claim_due()) == 1  # claimed, then the worker dies before sending
    clock.advance(timedelta(minutes=3))
    assert engine.dispatcher.reap() == (1, 0)
    assert engine.dispatcher.run_until_idle() == 1
    assert statuses(engine, r.number) == ["sent"]
    assert len(twilio.messages) == 1


def test_send_window_defers_to_monday_morning(db: Database, twilio: tw.FakeTwilio) -> None:
    from datetime import UTC, datetime

    friday_night = FrozenClock(datetime(2026, 11, 27, 21, 0, tzinfo=UTC))  # 22:00 in Paris
    engine = Engine(
        db,
        friday_night,
        senders={"sms": twilio_sender(twilio)},
        region="FR",
        timezone="Europe/Paris",
        send_window="mon-fri 09:00-19:00",
    )
    r = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="0610203040", method="sms"), ALICE
    )
    monday_nine_paris = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert r.scheduled_at == monday_nine_paris
    assert engine.dispatcher.run_until_idle() == 0
    friday_night.set(monday_nine_paris)
    assert engine.dispatcher.run_until_idle() == 1
    assert len(twilio.messages) == 1


def test_window_changed_after_queuing_is_respected(engine: Engine, twilio: tw.FakeTwilio) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="A", phone="+33615550100", method="sms"), ALICE)
    policy = engine.ops.policy(engine.ws)
    # 10:00 UTC Monday is now outside a window that opens at 14:00.
    engine.ops.update_policy(
        engine.ws,
        policy.model_validate({**policy.model_dump(), "send_window": "mon-fri 14:00-18:00"}),
        ALICE,
    )
    assert engine.dispatcher.run_until_idle() == 0
    with engine.db.read() as session:
        message = session.exec(select(Message)).one()
    assert message.status == "queued"
    assert message.due_at.hour == 14
    assert twilio.messages == []


def test_two_workers_send_each_message_exactly_once(
    database_url: str, clock: FrozenClock, twilio: tw.FakeTwilio
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("two concurrent workers are the PostgreSQL scale-out case")
    setup_db = Database(database_url)
    setup = Engine(setup_db, clock, region="US", cooldown_days=0)
    for i in range(500):
        setup.ops.create(
            setup.ws, RequestCreate(name=f"C{i}", phone=f"+3361555{i:04d}", method="sms"), ALICE
        )
    workers = []
    for _ in range(2):
        # Each worker has its own engine, so its own connections and transactions.
        worker = Dispatcher(
            setup.ops,
            senders={"sms": twilio_sender(twilio)},
            composer=setup.dispatcher.composer,
            batch_size=20,
            db=Database(database_url),
        )
        workers.append(worker)
    handed = Counter[int]()
    barrier = threading.Barrier(2)

    def run(index: int) -> None:
        barrier.wait()
        handed[index] = workers[index].run_until_idle()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_number = Counter(m["To"] for m in twilio.messages)
    assert len(per_number) == 500
    assert set(per_number.values()) == {1}
    assert handed[0] + handed[1] == 500
    assert handed[0] > 0 and handed[1] > 0
    with setup_db.read() as session:
        assert {m.status for m in session.exec(select(Message)).all()} == {"sent"}
    for worker in workers:
        worker.db.dispose()
    setup_db.dispose()
