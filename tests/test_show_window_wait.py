"""`show #N` says what holds a waiting message: the send window or a holiday (the recipient's
hours have tests/test_quiet_hours_dispatch.py), in Slack, the CLI and its JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FrozenClock
from bot.domain.policy import WorkspacePolicy
from bot.domain.send_time import window_wait
from bot.usecases.inputs import RequestCreate
from store.db import Database
from tests.helpers import ALICE, Engine, cli_invoker
from tests.slack_harness import (  # noqa: F401 - the fixture
    SlackHarness,
    slack_fixture,
    text_of,
)

EVENING_ONLY = "mon-sun 20:00-22:00"  # closed at noon UTC, when the in-process CLI runs
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday


def test_show_says_the_window_holds_it_in_slack_the_cli_and_json(
    slack: SlackHarness, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    slack.set_policy(timezone="UTC", send_window=EVENING_ONLY)
    slack.clock.set(NOON)
    number = slack.create(email="jane@example.com", method="email")
    said = f"waits: outside the send window {EVENING_ONLY}"

    assert slack.post_command(f"show #{number}").status_code == 200
    assert said in text_of(slack.answer())

    cli = cli_invoker(database_url, monkeypatch, tmp_path)
    out = cli("show", str(number))
    assert out.exit_code == 0, out.output
    assert said in out.output
    as_json = cli("show", str(number), "--json")
    assert as_json.exit_code == 0, as_json.output
    [message] = json.loads(as_json.output)["messages"]
    assert message["window_wait"] == said


def test_a_holiday_is_named_and_a_message_delayed_past_the_opening_is_not_held(
    db: Database,
) -> None:
    christmas_noon = datetime(2026, 12, 25, 11, 0, tzinfo=UTC)  # 12:00 in Paris, a Friday
    engine = Engine(db, FrozenClock(christmas_noon), timezone="Europe/Paris", holidays="FR")
    r = engine.ops.create(
        engine.ws, RequestCreate(name="A", email="a@example.com", method="email"), ALICE
    )
    detail = engine.ops.show(engine.ws, r.number)
    [message] = detail.messages
    held = detail.window[message.id or 0]
    assert "public holiday (FR)" in held.sentence() and "Christmas" in held.sentence()

    later = engine.ops.create(
        engine.ws,
        RequestCreate(
            name="B", email="b@example.com", method="email", when="delay", delay=timedelta(days=3)
        ),
        ALICE,
    )
    assert engine.ops.show(engine.ws, later.number).window == {}


def test_nothing_is_said_when_the_window_is_open() -> None:
    policy = WorkspacePolicy.model_validate({"timezone": "UTC", "send_window": EVENING_ONLY})
    evening = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)
    assert window_wait(1, evening, evening, policy) is None
    held = window_wait(1, NOON.replace(hour=20), NOON, policy)
    assert held is not None and held.reasons == (f"outside the send window {EVENING_ONLY}",)
