"""Reconciling `unknown` messages against the fake Twilio, and the team's two decisions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FrozenClock
from bot.delivery.twilio import TwilioSender
from bot.domain.errors import NotAllowed
from bot.usecases.feedback import Feedback
from bot.usecases.inputs import RequestCreate
from scheduler.reconcile import Reconciler, ReconcileResult, finders
from store.db import Database
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE, Engine

SID = "AC" + "2" * 32
TOKEN = "reconcile-token"
FROM = "+15005550006"
PHONE = "+33615550100"
# Twilio's magic numbers (+1 500) are non-geographic: they may be in any North American zone,
# Guam to St John's, so the recipient's hours hold in all of them only about 22:00-00:30 UTC.
NANP_EVENING = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)


@pytest.fixture
def twilio(clock: FrozenClock) -> Iterator[tw.FakeTwilio]:
    with tw.FakeTwilio(SID, TOKEN, now=clock.now, hang_seconds=3.0) as fake:
        yield fake


def sender(fake: tw.FakeTwilio, api_url: str | None = None) -> TwilioSender:
    # No test here makes the fake hang: a send that times out on a loaded machine would be one
    # more `unknown` for the reconciler to resolve than the test counts (seen once in CI at 1 s).
    return TwilioSender(SID, TOKEN, api_url=api_url or fake.url, sms_from=FROM, timeout=10.0)


@pytest.fixture
def engine(db: Database, clock: FrozenClock, twilio: tw.FakeTwilio) -> Engine:
    sms = sender(twilio)
    return Engine(db, clock, senders={"sms": sms, "whatsapp": sms}, region="US", cooldown_days=0)


@pytest.fixture
def reconciler(engine: Engine) -> Reconciler:
    return Reconciler(Feedback(engine.ops), finders(engine.dispatcher.senders))


def create(engine: Engine, phone: str = PHONE, **values: object) -> int:
    data = RequestCreate.model_validate(
        {"name": "Jane Doe", "phone": phone, "method": "sms", **values}
    )
    return engine.ops.create(engine.ws, data, ALICE).number


def status(engine: Engine, number: int, index: int = -1) -> str:
    return engine.ops.show(engine.ws, number).messages[index].status


def lost_in_flight(engine: Engine, number: int) -> None:
    """A worker moves the message to `sending` and dies before calling Twilio."""
    [claim] = engine.dispatcher.claim_due()
    assert engine.dispatcher.start_sending(claim) is not None
    engine.clock.advance(timedelta(minutes=6))
    assert engine.dispatcher.reap() == (0, 1)
    assert status(engine, number) == "unknown"


def list_calls(fake: tw.FakeTwilio) -> int:
    return len([r for r in fake.requests if r.method == "GET"])


def changes(engine: Engine, kind: str) -> list[str]:
    return [c.text for _, c in engine.notifier.changes if c.kind == kind]  # type: ignore[attr-defined]


def test_a_message_twilio_stored_is_resolved_to_sent_with_its_sid(
    engine: Engine, reconciler: Reconciler, twilio: tw.FakeTwilio
) -> None:
    engine.clock.set(NANP_EVENING)
    number = create(engine, tw.SCENARIO_SERVER_ERROR_ACCEPTED)
    engine.dispatcher.run_until_idle()
    assert status(engine, number) == "unknown"
    assert reconciler.run_once() == ReconcileResult(resolved=1)
    message = engine.ops.show(engine.ws, number).messages[0]
    assert (message.status, message.provider_id) == ("sent", twilio.accepted[0]["sid"])
    assert changes(engine, "sent")[-1] == "Found at the provider: the SMS went out (sent)"
    assert reconciler.run_once() == ReconcileResult()  # nothing left in doubt
    assert len(twilio.messages) == 1  # asked, never re-sent


def test_a_message_twilio_failed_is_resolved_to_failed_and_falls_back(
    engine: Engine, reconciler: Reconciler, twilio: tw.FakeTwilio
) -> None:
    engine.clock.set(NANP_EVENING)
    number = create(
        engine, tw.SCENARIO_SERVER_ERROR_ACCEPTED, method="sms_or_email", email="j@example.com"
    )
    engine.dispatcher.run_until_idle()
    twilio.set_status(twilio.accepted[0]["sid"], "undelivered", error_code=30007)
    assert reconciler.run_once().resolved == 1
    detail = engine.ops.show(engine.ws, number)
    failed = detail.messages[0]
    assert (failed.status, failed.error_code) == ("undelivered", "30007")
    # The message keeps its first note (why it was in doubt); the request shows the outcome.
    assert "may have been accepted" in (failed.error_reason or "")
    assert detail.request.last_error == "Filtered as spam by the carrier"
    assert "Filtered as spam by the carrier (error 30007)" in changes(engine, "undelivered")[0]
    assert [(m.channel, m.kind, m.status) for m in detail.messages[1:]] == [
        ("email", "fallback", "queued")
    ]


def test_not_found_waits_then_tells_the_team_once(
    engine: Engine, reconciler: Reconciler, twilio: tw.FakeTwilio
) -> None:
    earlier = create(engine)  # to the same number, really sent: not ours
    engine.dispatcher.run_until_idle()
    number = create(engine)
    lost_in_flight(engine, number)
    assert reconciler.run_once() == ReconcileResult(waiting=1)
    assert changes(engine, "unresolved") == []
    engine.clock.advance(timedelta(minutes=15))
    assert reconciler.run_once() == ReconcileResult(unresolved=1)
    [text] = changes(engine, "unresolved")
    assert "Mark as sent" in text and "Send again" in text
    alerts = [c for _, c in engine.notifier.changes if c.kind == "unresolved"]  # type: ignore[attr-defined]
    assert alerts[0].alert
    asked = list_calls(twilio)
    assert reconciler.run_once() == ReconcileResult()  # told once, not asked again
    assert list_calls(twilio) == asked
    assert status(engine, number) == "unknown"
    assert status(engine, earlier) == "sent"


def test_mark_as_sent_is_a_recorded_human_decision(engine: Engine, reconciler: Reconciler) -> None:
    number = create(engine)
    lost_in_flight(engine, number)
    feedback = Feedback(engine.ops)
    feedback.mark_as_sent(engine.ws, number, ALICE)
    detail = engine.ops.show(engine.ws, number)
    assert detail.messages[0].status == "sent" and detail.request.status == "sent"
    [event] = [e for e in detail.events if e.kind == "marked_sent"]
    assert event.actor == ALICE.id
    assert changes(engine, "marked_sent") == [f"Marked as sent by <@{ALICE.id}>"]
    with pytest.raises(NotAllowed):
        feedback.mark_as_sent(engine.ws, number, ALICE)


def test_send_again_sends_a_new_message_once(
    engine: Engine, reconciler: Reconciler, twilio: tw.FakeTwilio
) -> None:
    number = create(engine)
    lost_in_flight(engine, number)
    Feedback(engine.ops).send_again(engine.ws, number, ALICE)
    assert engine.dispatcher.run_until_idle() == 1
    detail = engine.ops.show(engine.ws, number)
    assert [(m.kind, m.status) for m in detail.messages] == [
        ("initial", "unknown"),
        ("resend", "sent"),
    ]
    assert len(twilio.messages) == 1


def test_twilio_unreachable_leaves_it_for_later(engine: Engine, db: Database) -> None:
    number = create(engine)
    lost_in_flight(engine, number)
    closed = sender(tw.FakeTwilio(SID, TOKEN), api_url="http://127.0.0.1:9")
    reconciler = Reconciler(Feedback(engine.ops), {"sms": closed})
    engine.clock.advance(timedelta(hours=1))
    assert reconciler.run_once() == ReconcileResult(errors=1)
    assert status(engine, number) == "unknown"
    assert changes(engine, "unresolved") == []


def test_without_twilio_there_is_nothing_to_ask(engine: Engine) -> None:
    assert finders({}) == {}
    assert Reconciler(Feedback(engine.ops), {}).run_once() == ReconcileResult()


def test_messages_still_settling_never_hold_back_the_ones_after_them(
    engine: Engine, twilio: tw.FakeTwilio
) -> None:
    # A page of two: the first two never reached Twilio and wait for its list to settle.
    reconciler = Reconciler(Feedback(engine.ops), finders(engine.dispatcher.senders), batch_size=2)
    engine.clock.set(NANP_EVENING)  # 14:00 in Los Angeles
    first, second = create(engine, "+14155550100"), create(engine, "+14155550101")
    [one, two] = engine.dispatcher.claim_due()
    assert engine.dispatcher.start_sending(one) and engine.dispatcher.start_sending(two)
    engine.clock.advance(timedelta(minutes=6))
    assert engine.dispatcher.reap() == (0, 2)
    third = create(engine, tw.SCENARIO_SERVER_ERROR_ACCEPTED)  # Twilio stored this one
    engine.dispatcher.run_until_idle()
    assert [status(engine, n) for n in (first, second, third)] == ["unknown"] * 3

    assert reconciler.run_once() == ReconcileResult(resolved=1, waiting=2)
    assert status(engine, third) == "sent"


def test_a_pass_asks_at_most_its_share_and_the_next_goes_on(
    engine: Engine, twilio: tw.FakeTwilio
) -> None:
    reconciler = Reconciler(
        Feedback(engine.ops), finders(engine.dispatcher.senders), batch_size=2, max_per_pass=3
    )
    for i in range(4):
        create(engine, f"+3361555020{i}")
    claims = engine.dispatcher.claim_due()
    assert all(engine.dispatcher.start_sending(c) for c in claims)
    engine.clock.advance(timedelta(minutes=6))
    assert engine.dispatcher.reap() == (0, 4)

    assert reconciler.run_once() == ReconcileResult(waiting=3)
    assert list_calls(twilio) == 3
    # The next pass asks about the fourth; the one after starts over from the first.
    assert reconciler.run_once() == ReconcileResult(waiting=1)
    assert reconciler.run_once() == ReconcileResult(waiting=3)
    assert list_calls(twilio) == 7
