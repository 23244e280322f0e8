"""Reminders through the running app: scheduled after a send, inside the window, counted as
retries, and stopped by a click, a STOP, a complaint or a cancel (nothing goes out after)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from store.models import Message
from tests.fakes.smtp_server import SmtpServer
from tests.helpers import ALICE
from tests.test_links import get, link
from tests.test_webhooks_email import KEY, event, signed
from tests.test_webhooks_twilio import Web, running

EMAIL = "jane@example.com"


@pytest.fixture
def web(database_url: str, clock: FrozenClock, smtp: SmtpServer) -> Iterator[Web]:
    with running(
        database_url,
        clock,
        smtp_url=smtp.url,
        mailgun_signing_key=KEY,
        cooldown_days=0,
        reminders=2,
        reminder_interval_days=3,
    ) as served:
        yield served


def kinds(web: Web, number: int) -> list[tuple[str, str, str]]:
    return [(m.kind, m.channel, m.status) for m in web.messages(number)]


def later(web: Web, days: int = 30) -> int:
    """Let time pass, dispatching as it goes; return how many messages went out."""
    sent = 0
    for _ in range(days):
        web.clock.advance(timedelta(days=1))
        sent += web.send_all()
    return sent


def test_reminders_follow_the_interval_and_the_window_and_count_as_retries(
    database_url: str, clock: FrozenClock
) -> None:
    with running(
        database_url,
        clock,
        reminders=2,
        reminder_interval_days=3,
        send_window="mon-fri 09:00-19:00",
        timezone="Europe/Paris",
    ) as web:
        request = web.create()  # Monday 11:00 in Paris
        web.send_all()
        assert kinds(web, request.number) == [
            ("initial", "sms", "sent"),
            ("reminder", "sms", "queued"),
        ]
        first = web.message(request.number, 1)
        assert first.due_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thursday
        assert web.ops.show(web.ws, request.number).request.retries == 0
        web.clock.set(first.due_at)
        assert web.send_all() == 1
        assert web.ops.show(web.ws, request.number).request.retries == 1
        second = web.message(request.number, 2)
        # Thursday + 3 days is a Sunday: it waits for Monday 09:00 in Paris.
        assert second.due_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        web.clock.set(second.due_at)
        assert web.send_all() == 1
        detail = web.ops.show(web.ws, request.number)
        assert detail.request.retries == 2
        assert [m.kind for m in detail.messages] == ["initial", "reminder", "reminder"]
        assert later(web) == 0  # two reminders at most
        assert len(web.twilio.messages) == 3


def test_a_click_on_the_link_cancels_the_reminders_and_none_goes_out(web: Web) -> None:
    request = web.create()
    web.send_all()
    assert get(link(web, request.number)).status_code == 302
    assert kinds(web, request.number) == [
        ("initial", "sms", "clicked"),
        ("reminder", "sms", "canceled"),
    ]
    reminder = web.message(request.number, 1)
    assert reminder.error_reason == "The customer clicked the review link"
    assert later(web) == 0
    assert len(web.twilio.messages) == 1
    assert web.ops.show(web.ws, request.number).request.retries == 0


def test_a_click_on_a_sent_reminder_stops_the_next_one(web: Web) -> None:
    request = web.create()
    web.send_all()
    web.clock.advance(timedelta(days=3))
    assert web.send_all() == 1
    assert get(link(web, request.number, 1)).status_code == 302
    assert kinds(web, request.number)[-1] == ("reminder", "sms", "canceled")
    assert later(web) == 0
    assert web.ops.show(web.ws, request.number).request.retries == 1


def test_stop_cancels_the_reminders_on_every_channel(web: Web) -> None:
    # SMS and email: reminded by email only (the French SMS page), stopped by an SMS STOP too.
    request = web.create(method="sms_and_email", email=EMAIL)
    web.send_all()
    assert sorted(kinds(web, request.number)) == [
        ("initial", "email", "sent"),
        ("initial", "sms", "sent"),
        ("reminder", "email", "queued"),  # one reminder, though two messages went out
    ]
    assert web.inbound("STOP") == 200
    reminder = next(m for m in web.messages(request.number) if m.kind == "reminder")
    assert (reminder.status, reminder.error_reason) == ("canceled", "The customer unsubscribed")
    assert later(web) == 0
    assert web.ops.show(web.ws, request.number).request.retries == 0


def test_a_complaint_cancels_the_reminders(web: Web, smtp: SmtpServer) -> None:
    request = web.create(method="email", email=EMAIL, phone=None)
    web.send_all()
    assert kinds(web, request.number) == [
        ("initial", "email", "sent"),
        ("reminder", "email", "queued"),
    ]
    message_id = smtp.messages[-1].message["Message-ID"].strip("<>")
    assert signed(web, event(message_id, "complained")) == 200
    assert kinds(web, request.number)[-1] == ("reminder", "email", "canceled")
    assert later(web) == 0
    assert len(smtp.messages) == 1


def test_canceling_the_request_cancels_its_reminder(web: Web) -> None:
    request = web.create()
    web.send_all()
    result = web.ops.cancel(web.ws, [request.number], ALICE)
    assert result.changed == [request.number]
    assert kinds(web, request.number)[-1] == ("reminder", "sms", "canceled")
    assert later(web) == 0


def test_a_reminder_queued_before_a_click_is_stopped_when_claimed(web: Web) -> None:
    # A click recorded by a path that did not cancel the reminder (an older worker, a manual
    # fix in the database): the dispatcher's own check still keeps it from going out.
    request = web.create()
    web.send_all()
    with web.app.db.write() as session:
        initial = session.exec(select(Message).where(Message.kind == "initial")).one()
        initial.status = "clicked"
        session.add(initial)
    web.clock.advance(timedelta(days=3))
    assert web.send_all() == 0
    reminder = web.message(request.number, 1)
    assert (reminder.status, reminder.error_reason) == (
        "canceled",
        "The customer already acted on this request",
    )
    assert len(web.twilio.messages) == 1
