"""Use-cases (bot/usecases: creating, lifecycle, corrections, lookups) against a real database (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.usecases.inputs import RequestCreate
from store.db import Database
from store.models import Contact, Event, Message, ReviewRequest
from tests.helpers import ALICE, Engine

PHONE_NEW = "06 12 34 00 00"  # a customer nobody has asked yet


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    return Engine(db, clock)


def count_rows(db: Database, model: type) -> int:
    with db.read() as session:
        return len(session.exec(select(model)).all())


def test_create_normalises_contact_and_numbers_requests(engine: Engine) -> None:
    first = engine.ops.create(
        engine.ws, RequestCreate(name="  Jane   Doe ", phone="06 10 20 30 40"), ALICE
    )
    second = engine.ops.create(engine.ws, RequestCreate(name="", email="Bob@Example.com"), ALICE)
    assert (first.number, second.number) == (1, 2)
    assert first.phone == "+33610203040"
    assert first.customer_name == "Jane Doe"
    assert first.channel == "sms"  # sms_or_email with a mobile number
    assert second.customer_name == "customer"
    assert second.email == "Bob@example.com"
    assert second.channel == "email"
    detail = engine.ops.show(engine.ws, 1)
    assert [(m.kind, m.channel, m.status) for m in detail.messages] == [
        ("initial", "sms", "queued")
    ]
    assert [e.kind for e in detail.events] == ["created"]
    assert detail.events[0].actor == ALICE.id


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (RequestCreate(name="Jane", phone="12"), "phone", "not a valid"),
        (RequestCreate(name="Jane", email="jane@"), "email", ""),
        (RequestCreate(name="Jane"), "phone", "mobile number or an email"),
        (RequestCreate(name="Jane", phone="01 23 45 67 89", method="sms"), "phone", "landline"),
        (RequestCreate(name="Jane", email="j@example.com", method="sms"), "phone", "needs a phone"),
        (RequestCreate(name="Jane", phone="0610203040", method="email"), "email", "needs an email"),
        (RequestCreate(name="Jane", phone="0610203040", method="sms_and_email"), "email", "email"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    engine: Engine, data: RequestCreate, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        engine.ops.create(engine.ws, data, ALICE)
    assert caught.value.field == field
    assert words.lower() in caught.value.message.lower()
    assert count_rows(engine.db, ReviewRequest) == 0
    assert count_rows(engine.db, Message) == 0


def test_landline_with_email_falls_to_email_for_sms_or_email(engine: Engine) -> None:
    r = engine.ops.create(
        engine.ws, RequestCreate(name="Jo", phone="01 23 45 67 89", email="jo@example.com"), ALICE
    )
    assert r.channel == "email"


def test_sms_and_email_sends_both(engine: Engine) -> None:
    r = engine.ops.create(
        engine.ws,
        RequestCreate(
            name="Jo", phone="0610203040", email="jo@example.com", method="sms_and_email"
        ),
        ALICE,
    )
    channels = [m.channel for m in engine.ops.show(engine.ws, r.number).messages]
    assert channels == ["sms", "email"]


def test_delay_and_exact_time(engine: Engine, clock: FrozenClock) -> None:
    later = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="0610203040", delay=timedelta(hours=2)), ALICE
    )
    assert later.scheduled_at == clock.now() + timedelta(hours=2)
    at = clock.now() + timedelta(days=3)
    exact = engine.ops.create(
        engine.ws,
        RequestCreate(name="B", phone="0610203041", when="at", at=at),
        ALICE,
    )
    assert exact.scheduled_at == at
    with pytest.raises(InvalidInput) as caught:
        engine.ops.create(
            engine.ws,
            RequestCreate(
                name="C", phone="0610203042", when="at", at=clock.now() - timedelta(hours=1)
            ),
            ALICE,
        )
    assert caught.value.field == "when"


def test_pause_resume_cancel_rules(engine: Engine) -> None:
    r = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="0610203040", delay=timedelta(hours=1)), ALICE
    )
    paused = engine.ops.pause(engine.ws, [r.number, 99], ALICE)
    assert paused.changed == [r.number]
    assert paused.refused == [(99, "There is no request #99.")]
    assert engine.ops.show(engine.ws, r.number).request.status == "paused"
    again = engine.ops.pause(engine.ws, [r.number], ALICE)
    assert again.refused == [(r.number, f"#{r.number} is already paused.")]
    assert engine.ops.resume(engine.ws, [r.number], ALICE).changed == [r.number]
    assert engine.ops.show(engine.ws, r.number).request.status == "queued"
    assert engine.ops.cancel(engine.ws, [r.number], ALICE).changed == [r.number]
    assert engine.ops.show(engine.ws, r.number).request.status == "canceled"
    refused = engine.ops.resume(engine.ws, [r.number], ALICE).refused
    assert refused == [(r.number, f"#{r.number} is already canceled.")]
    kinds = [e.kind for e in engine.ops.show(engine.ws, r.number).events]
    assert kinds == ["created", "paused", "resumed", "canceled"]


def test_sent_request_cannot_be_paused(engine: Engine) -> None:
    r = engine.ops.create(engine.ws, RequestCreate(name="A", phone="0610203040"), ALICE)
    engine.dispatcher.run_until_idle()
    result = engine.ops.pause(engine.ws, [r.number], ALICE)
    assert result.refused == [(r.number, f"#{r.number} was already sent, so it can't be paused.")]


def test_cancel_all_queued_counts_and_cancels_only_waiting(engine: Engine) -> None:
    for i in range(3):
        engine.ops.create(
            engine.ws,
            RequestCreate(name=f"N{i}", phone=f"061020304{i}", delay=timedelta(days=1)),
            ALICE,
        )
    sent = engine.ops.create(engine.ws, RequestCreate(name="S", phone="0610203049"), ALICE)
    engine.dispatcher.run_until_idle()
    engine.ops.pause(engine.ws, [1], ALICE)
    assert engine.ops.count_queued(engine.ws) == 3
    result = engine.ops.cancel_all_queued(engine.ws, ALICE)
    assert sorted(result.changed) == [1, 2, 3]
    assert engine.ops.count_queued(engine.ws) == 0
    assert engine.ops.show(engine.ws, sent.number).request.status == "sent"


def test_reschedule_and_send_now(engine: Engine, clock: FrozenClock) -> None:
    r = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="0610203040", delay=timedelta(days=2)), ALICE
    )
    new_time = clock.now() + timedelta(hours=5)
    engine.ops.reschedule(engine.ws, r.number, new_time, ALICE)
    assert engine.ops.show(engine.ws, r.number).messages[0].due_at == new_time
    engine.ops.send_now(engine.ws, r.number, ALICE)
    engine.dispatcher.run_until_idle()
    assert engine.ops.show(engine.ws, r.number).request.status == "sent"
    with pytest.raises(Exception, match="already sent"):
        engine.ops.reschedule(engine.ws, r.number, new_time, ALICE)


def test_cooldown_refuses_then_override(engine: Engine) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="A", phone="0610203040"), ALICE)
    with pytest.raises(Conflict) as caught:
        engine.ops.create(engine.ws, RequestCreate(name="A", phone="+33 6 10 20 30 40"), ALICE)
    assert "#1" in caught.value.message and "30 days" in caught.value.message
    again = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone="+33610203040", override_cooldown=True), ALICE
    )
    assert again.number == 2
    created = engine.ops.show(engine.ws, 2).events[0]
    assert created.detail["cooldown_overridden"] is True


def test_delete_erases_content_keeps_audit(engine: Engine) -> None:
    r = engine.ops.create(
        engine.ws,
        RequestCreate(name="Jane", email="jane@example.com", delay=timedelta(days=1)),
        ALICE,
    )
    engine.ops.delete(engine.ws, r.number, ALICE)
    assert engine.ops.pause(engine.ws, [r.number], ALICE).refused == [
        (r.number, f"There is no request #{r.number}.")
    ]
    with pytest.raises(NotFound):
        engine.ops.resend(engine.ws, r.number, ALICE)
    detail = engine.ops.show(engine.ws, r.number)
    assert detail.request.email is None and detail.request.customer_name == "deleted"
    assert all(m.to_address == "" and m.status == "canceled" for m in detail.messages)
    with engine.db.read() as session:
        audit = session.exec(select(Event).where(Event.kind == "deleted")).one()
    assert audit.actor == ALICE.id and audit.detail["number"] == r.number


def test_people_asking_for_the_same_new_customer_at_once_share_one_contact(
    db: Database, clock: FrozenClock
) -> None:
    """Two colleagues (or a double-clicked form) send to a customer nobody has asked before,
    at the same moment: every request is made, under one contact (on PostgreSQL the second
    used to fail on the contact's unique number)."""
    engine = Engine(db, clock, cooldown_days=0)
    made: list[int] = []
    refused: list[BaseException] = []
    start = threading.Barrier(6)

    def ask() -> None:
        start.wait()
        try:
            request = engine.ops.create(engine.ws, RequestCreate(name="Jo", phone=PHONE_NEW), ALICE)
            made.append(request.number)
        except BaseException as exc:  # noqa: BLE001 - the test reports what went wrong
            refused.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == [] and sorted(made) == [1, 2, 3, 4, 5, 6]
    with db.read() as session:
        contacts = session.exec(select(Contact).where(Contact.phone == "+33612340000")).all()
        assert len(contacts) == 1
