"""GET /healthz: 200 or 503 for load balancers, and a JSON body naming what is failing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests

from store.models import WebhookInbox
from tests.slack_harness import CHANNEL, SlackHarness, slack_fixture  # noqa: F401
from tests.test_slack_database_down import cut_the_database


def health(slack: SlackHarness) -> tuple[int, dict[str, Any]]:
    response = requests.get(slack.url.replace("/slack/events", "/healthz"), timeout=10)
    assert response.headers["Content-Type"].startswith("application/json")
    return response.status_code, response.json()


def test_all_well_is_200_and_says_each_check(slack: SlackHarness) -> None:
    status, body = health(slack)
    assert status == 200 and body["status"] == "ok" and body["failing"] == []
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "scheduler": True,
        "slack_outbox": True,
        "webhook_inbox": True,
    }


def test_an_unreachable_database_is_503_and_named(slack: SlackHarness) -> None:
    cut_the_database(slack)
    status, body = health(slack)
    assert status == 503 and body["status"] == "failing" and body["failing"] == ["database"]
    assert "error" in body["checks"]["database"]


def test_due_messages_nobody_sends_mean_the_scheduler_is_down(slack: SlackHarness) -> None:
    slack.create("Jane Doe")  # due now; no scheduler runs in this process
    slack.app.outbox.run_once()  # the card goes out: only the message waits
    assert health(slack)[0] == 200  # just due: not late yet
    slack.clock.advance(timedelta(minutes=10))
    status, body = health(slack)
    assert status == 503 and body["failing"] == ["scheduler"]
    assert body["checks"]["scheduler"]["oldest_due_seconds"] == 600


def test_slack_posts_waiting_too_long_mean_the_outbox_is_stuck(slack: SlackHarness) -> None:
    slack.create("Jane Doe", delay=timedelta(days=1), origin_channel=CHANNEL)  # a card to post
    slack.clock.advance(timedelta(minutes=20))
    status, body = health(slack)
    assert status == 503 and body["failing"] == ["slack_outbox"]
    assert body["checks"]["slack_outbox"]["oldest_pending_seconds"] == 1200


def test_status_callbacks_left_unapplied_mean_the_inbox_is_stuck(slack: SlackHarness) -> None:
    # A verified callback stored and answered, as the Twilio route does; nothing applies it.
    with slack.app.db.write() as session:
        session.add(WebhookInbox(source="twilio_status", payload={}, received_at=slack.clock.now()))
    assert health(slack)[0] == 200  # just answered: not late yet
    slack.clock.advance(timedelta(minutes=6))
    status, body = health(slack)
    assert status == 503 and body["failing"] == ["webhook_inbox"]
    assert body["checks"]["webhook_inbox"]["oldest_unapplied_seconds"] == 360
