"""Recipient quiet hours at the real entry points: the dispatcher's claim-time check with an
injected clock against the fake Twilio, `show #N` in Slack and the CLI, `settings set`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.clock import FrozenClock, SystemClock
from bot.delivery.twilio import TwilioSender
from bot.domain.quiet_hours import NeverReachable, parse_quiet_hours, recipient_zones
from bot.domain.send_time import earliest_send
from bot.domain.window import parse_window
from bot.usecases.inputs import RequestCreate
from store.db import Database
from store.models import Message
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE, Engine, cli_invoker
from tests.slack_harness import (  # noqa: F401 - the fixture
    ADMIN,
    SlackHarness,
    slack_fixture,
    text_of,
    typed,
)
from tests.test_settings_modal import open_form, submit
from tests.test_window_properties import MOMENTS

SID = "AC" + "0" * 32
TOKEN = "secret-token"
FROM = "+15005550006"
CHICAGO = "+13125550100"
EVENING_IN_CHICAGO = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Sunday 20:00 there
TEN_PAST_TEN_PM = datetime(2026, 11, 23, 4, 10, tzinfo=UTC)  # Sunday 22:10 in Chicago
EIGHT_AM = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago


@pytest.fixture
def twilio() -> Iterator[tw.FakeTwilio]:
    with tw.FakeTwilio(SID, TOKEN) as fake:
        yield fake


@pytest.fixture
def engine(db: Database, twilio: tw.FakeTwilio) -> Engine:
    sms = TwilioSender(SID, TOKEN, api_url=twilio.url, sms_from=FROM, whatsapp_from=FROM)
    return Engine(
        db,
        FrozenClock(EVENING_IN_CHICAGO),
        senders={"sms": sms, "whatsapp": sms},
        region="US",
        send_window="always",
        cooldown_days=0,
    )


def only_message(engine: Engine) -> Message:
    with engine.db.read() as session:
        return session.exec(select(Message)).one()


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_a_text_due_at_ten_past_ten_pm_waits_for_eight_am_in_chicago(
    engine: Engine, twilio: tw.FakeTwilio, channel: str
) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="A", phone=CHICAGO, method=channel), ALICE)
    assert only_message(engine).due_at == EVENING_IN_CHICAGO  # may go now: 20:00 there
    engine.clock.set(TEN_PAST_TEN_PM)  # the worker only gets to it at 22:10 Chicago time
    assert engine.dispatcher.run_until_idle() == 0
    assert twilio.messages == []
    waiting = only_message(engine)
    assert (waiting.status, waiting.due_at) == ("queued", EIGHT_AM)
    engine.clock.set(EIGHT_AM - timedelta(minutes=1))
    assert engine.dispatcher.run_until_idle() == 0
    assert twilio.messages == []
    engine.clock.set(EIGHT_AM)
    assert engine.dispatcher.run_until_idle() == 1
    assert len(twilio.messages) == 1
    assert only_message(engine).status == "sent"


def test_a_text_created_at_night_is_scheduled_for_the_recipient_s_morning(engine: Engine) -> None:
    engine.clock.set(TEN_PAST_TEN_PM)
    request = engine.ops.create(
        engine.ws, RequestCreate(name="A", phone=CHICAGO, method="sms"), ALICE
    )
    assert request.scheduled_at == EIGHT_AM
    assert only_message(engine).due_at == EIGHT_AM


def test_send_now_at_night_moves_a_text_to_the_recipient_s_morning_and_says_so(
    engine: Engine, twilio: tw.FakeTwilio
) -> None:
    data = RequestCreate(
        name="A", phone=CHICAGO, method="sms", when="delay", delay=timedelta(days=2)
    )
    request = engine.ops.create(engine.ws, data, ALICE)
    engine.clock.set(TEN_PAST_TEN_PM)
    moved = engine.ops.send_now(engine.ws, request.number, ALICE)
    assert moved.scheduled_at == EIGHT_AM
    assert only_message(engine).due_at == EIGHT_AM
    assert engine.dispatcher.run_until_idle() == 0
    assert twilio.messages == []


def test_an_email_is_not_held_by_the_recipient_s_hours(engine: Engine) -> None:
    engine.clock.set(TEN_PAST_TEN_PM)
    request = engine.ops.create(
        engine.ws,
        RequestCreate(name="A", phone=CHICAGO, email="a@example.com", method="sms_and_email"),
        ALICE,
    )
    with engine.db.read() as session:
        due = {m.channel: m.due_at for m in session.exec(select(Message)).all()}
    assert due == {"sms": EIGHT_AM, "email": TEN_PAST_TEN_PM}
    assert request.scheduled_at == TEN_PAST_TEN_PM  # the first message's time


def test_stricter_quiet_hours_set_after_queuing_are_obeyed_at_claim_time(
    engine: Engine,
    twilio: tw.FakeTwilio,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="A", phone=CHICAGO, method="sms"), ALICE)
    invoke = cli_invoker(database_url, monkeypatch, tmp_path, region="US")
    looser = invoke("settings", "set", "quiet_hours=07:00-21:00")
    assert looser.exit_code == 2, looser.output
    assert "quiet_hours can only be stricter than 08:00-21:00" in looser.output
    assert engine.ops.policy(engine.ws).quiet_hours == "08:00-21:00"
    stricter = invoke("settings", "set", "quiet_hours=09:00-19:30")
    assert stricter.exit_code == 0, stricter.output
    assert engine.dispatcher.run_until_idle() == 0  # 20:00 in Chicago: after 19:30
    assert twilio.messages == []
    assert only_message(engine).due_at == EIGHT_AM + timedelta(hours=1)


def test_show_says_why_a_text_waits_in_slack_and_the_cli(
    slack: SlackHarness, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    slack.set_policy(region="US", timezone="America/Chicago", send_window="always")
    slack.clock.set(TEN_PAST_TEN_PM)
    number = slack.create(phone=CHICAGO, method="sms")
    reason = "recipient's local time 22:10 in America/Chicago"
    assert slack.post_command(f"show #{number}").status_code == 200
    shown = text_of(slack.answer())
    assert "waits for the recipient's hours (08:00-21:00)" in shown
    assert reason in shown
    detail = slack.ops.show(slack.ws, number)
    assert detail.quiet[detail.messages[0].id or 0].sentence().endswith(reason)
    cli = cli_invoker(database_url, monkeypatch, tmp_path, region="US")
    out = cli("show", str(number))
    assert out.exit_code == 0, out.output
    # The in-process CLI's clock runs at noon UTC of today (tests/helpers.py): 06:00 or 07:00
    # in Chicago, before the recipient's hours, whatever the hour the suite runs at.
    cli_now = SystemClock().now().astimezone(ZoneInfo("America/Chicago"))
    assert not 8 <= cli_now.hour < 21
    assert f"recipient's local time {cli_now:%H:}" in out.output


def test_settings_modal_and_command_refuse_looser_hours_in_slack(slack: SlackHarness) -> None:
    assert slack.post_command("settings set quiet_hours=08:00-22:00", user=ADMIN).status_code == 200
    assert "quiet_hours can only be stricter than 08:00-21:00" in text_of(slack.answer())
    assert slack.ops.policy(slack.ws).quiet_hours == "08:00-21:00"


def test_the_settings_form_refuses_looser_hours_on_their_field_and_stores_stricter(
    slack: SlackHarness,
) -> None:
    view = open_form(slack)
    (field,) = [b for b in view["blocks"] if b.get("block_id") == "quiet_hours"]
    assert field["element"]["initial_value"] == "08:00-21:00"
    before = slack.ops.policy(slack.ws)
    answer = submit(slack, view, quiet_hours=typed("07:30-21:00"))
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["quiet_hours"]
    assert "quiet_hours can only be stricter than 08:00-21:00" in answer["errors"]["quiet_hours"]
    assert slack.ops.policy(slack.ws) == before
    submit(slack, open_form(slack), quiet_hours=typed("09:00-20:00"))
    assert slack.ops.policy(slack.ws).quiet_hours == "09:00-20:00"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    MOMENTS,
    st.sampled_from(["Europe/Paris", "America/New_York"]),
    st.sampled_from(["always", "mon-fri 09:00-19:00", "mon-sun 06:00-23:00"]),
    st.sampled_from(["+13125550100", "+12125550100", "+33612345678", "+19075550100"]),
    st.sampled_from([timedelta(0), timedelta(hours=5), timedelta(days=1)]),
    st.integers(min_value=0, max_value=1),
)
def test_the_dispatcher_sends_every_text_once_inside_the_window_and_the_recipient_s_hours(
    db: Database,
    created: datetime,
    tz: str,
    window_text: str,
    phone: str,
    delay: timedelta,
    reminders: int,
) -> None:
    clock = FrozenClock(created)
    engine = Engine(
        db,
        clock,
        timezone=tz,
        send_window=window_text,
        cooldown_days=0,
        reminders=reminders,
        reminder_interval_days=2,
    )
    policy = engine.ops.policy(engine.ws)
    data = RequestCreate(name="Jane", phone=phone, method="sms", when="delay", delay=delay)
    try:
        expected_first = earliest_send(created + delay, policy, "sms", phone)
    except NeverReachable:
        with pytest.raises(NeverReachable):
            engine.ops.create(engine.ws, data, ALICE)
        return
    request = engine.ops.create(engine.ws, data, ALICE)
    for _ in range(40):
        engine.dispatcher.run_until_idle()
        with db.read() as session:
            messages = session.exec(
                select(Message).where(Message.request_id == request.id).order_by(Message.id)
            ).all()
        waiting = [m for m in messages if m.status in ("queued", "paused", "claimed")]
        if not waiting:
            break
        due = min(m.due_at for m in waiting)
        clock.set(max(clock.now() + timedelta(seconds=1), due))
    assert all(m.status == "sent" for m in messages), [(m.kind, m.status) for m in messages]
    window, hours = parse_window(window_text), parse_quiet_hours(policy.quiet_hours)
    for message in messages:
        assert message.sent_at is not None
        assert window.allows(message.sent_at.astimezone(ZoneInfo(tz)))
        for zone in recipient_zones(phone, tz):
            assert hours.allows(message.sent_at.astimezone(ZoneInfo(zone))), (zone, message.kind)
    assert messages[0].sent_at == expected_first  # not a minute later than needed
    assert engine.console_out.getvalue().count(phone) == 1 + reminders
