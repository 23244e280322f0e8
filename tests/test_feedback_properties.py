"""Properties of feedback: however callbacks are ordered or repeated, the highest-ranked one wins."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.delivery.twilio_reports import twilio_status
from bot.domain.status import RANK, TERMINAL, Status
from bot.usecases.feedback import Feedback
from bot.usecases.inputs import RequestCreate
from bot.usecases.notifier import RecordingNotifier
from bot.usecases.reports import Applied, fold
from store.db import Database
from store.models import Event, Message
from tests.helpers import ALICE, Engine

# What Twilio can report for one message: one life, at most one way for it to end.
TWILIO_LIVES = [
    ["accepted", "queued", "sending", "sent", "delivered"],
    ["accepted", "queued", "sending", "sent", "delivered", "read"],
    ["queued", "sending", "sent", "undelivered"],
    ["queued", "sending", "failed"],
    ["queued", "sent", "partially_delivered"],
]
# What an email can go through, as statuses (provider events, pixel, link, unsubscribe).
EMAIL_LIVES = [
    [Status.SENT, Status.DELIVERED, Status.OPENED, Status.CLICKED],
    [Status.SENT, Status.DELIVERED, Status.OPENED, Status.COMPLAINED],
    [Status.SENT, Status.DELIVERED, Status.CLICKED, Status.UNSUBSCRIBED],
    [Status.SENT, Status.FAILED],
]
STARTS = [Status.SENDING, Status.UNKNOWN, Status.SENT]


@st.composite
def deliveries(draw: st.DrawFn, lives: list[list[str]]) -> list[str]:
    """Draw some reports of one life, then shuffle and repeat them as a network would."""
    life = draw(st.sampled_from(lives))
    received = draw(st.lists(st.sampled_from(life), min_size=1, max_size=len(life), unique=True))
    repeated = draw(st.lists(st.sampled_from(received), max_size=8))
    return draw(st.permutations(received + repeated))


def highest(start: Status, reports: list[Status]) -> Status:
    return max([start, *reports], key=lambda s: RANK[s])


@settings(max_examples=1200)
@given(start=st.sampled_from(STARTS), words=deliveries(TWILIO_LIVES))
def test_twilio_callbacks_in_any_order_end_at_the_highest_ranked(
    start: Status, words: list[str]
) -> None:
    reports = [s for s in map(twilio_status, words) if s is not None]
    assert fold(start, reports) == highest(start, reports)


@settings(max_examples=1000)
@given(
    start=st.sampled_from(STARTS),
    reports=st.sampled_from(EMAIL_LIVES).flatmap(
        lambda life: st.lists(st.sampled_from(life), min_size=1, max_size=12)
    ),
)
def test_email_events_in_any_order_end_at_the_highest_ranked(
    start: Status, reports: list[Status]
) -> None:
    assert fold(start, reports) == highest(start, reports)


def test_twilio_words_map_as_documented() -> None:
    assert twilio_status(" Delivered ") is Status.DELIVERED
    assert twilio_status("queued") is None and twilio_status("accepted") is None
    assert twilio_status("made-up") is None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(words=deliveries(TWILIO_LIVES))
def test_the_store_agrees_with_the_rule(db: Database, clock: FrozenClock, words: list[str]) -> None:
    engine = Engine(db, clock, region="US", cooldown_days=0)
    feedback = Feedback(engine.ops)
    request = engine.ops.create(
        engine.ws, RequestCreate(name="P", phone="+33615550100", method="sms"), ALICE
    )
    engine.dispatcher.run_until_idle()
    sid = engine.ops.show(engine.ws, request.number).messages[0].provider_id
    assert sid is not None
    results = []
    for i, word in enumerate(words):
        clock.advance(timedelta(seconds=1))
        results.append(feedback.twilio_status(sid=sid, status=word, idempotency_token=f"t{i}"))
    detail = engine.ops.show(engine.ws, request.number)
    reports = [s for s in map(twilio_status, words) if s is not None]
    expected = highest(Status.SENT, reports)
    assert detail.messages[0].status == expected.value
    assert detail.request.status == expected.value
    # Each (sid, status) is applied at most once, whatever the repeats.
    with db.read() as session:
        keys = session.exec(
            select(Event.dedup_key).where(
                Event.request_id == request.id, col(Event.dedup_key).is_not(None)
            )
        ).all()
    assert max(Counter(keys).values(), default=0) <= 1
    assert results.count(Applied.APPLIED) == len(keys)
    with db.read() as session:
        message = session.exec(select(Message).where(Message.request_id == request.id)).one()
    if Status.FAILED in reports or Status.UNDELIVERED in reports:
        assert message.failed_at is not None


TERMINALS = sorted(TERMINAL, key=lambda s: RANK[s])


@settings(max_examples=500)
@given(
    start=st.sampled_from([*STARTS, *TERMINALS]),
    pair=st.lists(st.sampled_from(TERMINALS), min_size=2, max_size=2, unique=True),
    others=st.lists(st.sampled_from(list(Status)), max_size=6),
    order=st.randoms(use_true_random=False),
)
def test_any_two_endings_in_any_order_end_the_same(
    start: Status, pair: list[Status], others: list[Status], order: random.Random
) -> None:
    reports = [*pair, *others]
    shuffled = reports[:]
    order.shuffle(shuffled)
    assert fold(start, shuffled) == fold(start, reports) == highest(start, reports)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    callbacks=st.lists(
        st.sampled_from(
            [("undelivered", "30003"), ("failed", "30008"), ("delivered", None), ("sent", None)]
        ),
        min_size=1,
        max_size=8,
    )
)
def test_failed_and_undelivered_callbacks_end_failed_in_any_order_with_their_code(
    db: Database, clock: FrozenClock, callbacks: list[tuple[str, str | None]]
) -> None:
    engine = Engine(db, clock, region="US", cooldown_days=0)
    feedback = Feedback(engine.ops)
    request = engine.ops.create(
        engine.ws, RequestCreate(name="P", phone="+33615550100", method="sms"), ALICE
    )
    engine.dispatcher.run_until_idle()
    sid = engine.ops.show(engine.ws, request.number).messages[0].provider_id
    assert sid is not None
    for i, (word, code) in enumerate(callbacks):
        clock.advance(timedelta(seconds=1))
        feedback.twilio_status(sid=sid, status=word, error_code=code, idempotency_token=f"t{i}")
    with db.read() as session:
        message = session.exec(select(Message).where(Message.request_id == request.id)).one()
    endings = [(w, c) for w, c in callbacks if c is not None]
    if any(w == "failed" for w, _ in endings):
        assert message.status == "failed"
    elif endings:
        assert message.status == "undelivered"
    # The first code reported is kept, never cleared or replaced.
    assert message.error_code == (endings[0][1] if endings else None)
    # The team is alerted once that the message did not reach the customer.
    assert isinstance(engine.notifier, RecordingNotifier)
    assert len([c for _, c in engine.notifier.changes if c.alert]) == min(len(endings), 1)
