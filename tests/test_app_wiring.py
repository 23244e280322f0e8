"""create_app wires settings to senders, the Slack notifier and the outbox job."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.app import create_app
from bot.clock import FrozenClock
from bot.delivery.console import ConsoleSender
from bot.domain.policy import WorkspacePolicy
from bot.settings import Settings
from bot.usecases.inputs import RequestCreate
from tests.fakes.slack_api import FakeSlack
from tests.helpers import ALICE


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def settings_for(database_url: str, **values: str) -> Settings:
    return Settings(_env_file=None, DATABASE_URL=database_url, DEFAULT_REGION="FR", **values)  # type: ignore[call-arg]


def test_without_providers_every_channel_prints_to_the_console(database_url: str) -> None:
    settings = settings_for(database_url)
    app = create_app(settings)
    try:
        assert {type(s) for s in app.senders.values()} == {ConsoleSender}
        assert app.outbox is None
        assert settings.senders_line() == "senders: SMS=console, WhatsApp=console, email=console"
    finally:
        app.close()


def test_live_senders_are_named(database_url: str) -> None:
    settings = settings_for(
        database_url,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="t",
        TWILIO_FROM="+15005550006",
        SMTP_URL="smtp://127.0.0.1:2525",
    )
    app = create_app(settings)
    try:
        assert app.senders["sms"].name == "twilio" and app.senders["email"].name == "smtp"
        assert app.senders["whatsapp"].name == "console"  # no TWILIO_WHATSAPP_FROM
        assert settings.senders_line() == "senders: SMS=Twilio, WhatsApp=console, email=SMTP"
    finally:
        app.close()


def test_scheduler_runs_reconciliation_only_where_twilio_can_be_asked(database_url: str) -> None:
    plain = create_app(settings_for(database_url))
    twilio = create_app(
        settings_for(
            database_url,
            TWILIO_ACCOUNT_SID="AC" + "0" * 32,
            TWILIO_AUTH_TOKEN="t",
            TWILIO_FROM="+15005550006",
        )
    )
    try:
        plain.start_scheduler()
        twilio.start_scheduler()
        assert plain.scheduler.job_ids() == ["dispatch", "erasure", "events", "heartbeat", "reaper"]
        assert twilio.scheduler.job_ids() == [
            "dispatch",
            "erasure",
            "events",
            "heartbeat",
            "reaper",
            "reconcile",
            "webhook_inbox",
        ]
    finally:
        plain.close()
        twilio.close()


def test_with_slack_a_new_request_is_posted_as_a_masked_thread_root(
    database_url: str, slack: FakeSlack, clock: FrozenClock
) -> None:
    settings = settings_for(
        database_url,
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=slack.api_url,
    )
    console = ConsoleSender(stream=io.StringIO())
    app = create_app(
        settings, clock=clock, senders={"sms": console, "email": console, "whatsapp": console}
    )
    try:
        workspace = app.ops.ensure_workspace("T0001", "Acme")
        assert workspace.id is not None
        policy = WorkspacePolicy.model_validate(
            {**workspace.policy, "notify_channel": "C0NOTIFY", "send_window": "always"}
        )
        app.ops.update_policy(workspace.id, policy, ALICE)
        request = app.ops.create(
            workspace.id, RequestCreate(name="Jane Doe", phone="0610203040"), ALICE
        )
        app.dispatcher.run_until_idle()
        outbox = app.outbox
        for _ in range(5):
            outbox.run_once()
            clock.advance(timedelta(seconds=2))
        roots = slack.messages("C0NOTIFY")
        assert len(roots) == 1
        assert f"#{request.number}" in roots[0]["text"]
        assert "+33610203040" not in str(slack.all_sent()) and "0610203040" not in str(
            slack.all_sent()
        )
        assert roots[0]["replies"], "the send was told in the request's thread"
    finally:
        app.close()
