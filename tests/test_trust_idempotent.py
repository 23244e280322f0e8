"""A slash command or modal submission delivered twice creates one request, whatever the database does.

Every delivery goes through the real /slack/events endpoint, signed as Slack signs it, byte for
byte the same each time (as Slack's retry and a double click are); what reached the fake Slack
and the database is then counted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from bot.domain.errors import NotFound
from store.models import ReviewRequest, SlackOutbox
from tests.slack_harness import (  # noqa: F401
    CHANNEL,
    SIGNING_SECRET,
    TEAM_ID,
    USER,
    SlackHarness,
    sign,
    slack_fixture,
    text_of,
    typed,
)
from tests.test_slack_interactions import open_send_modal, send_values

REPEATED = "a repeated Slack delivery created nothing"


def deliver(slack: SlackHarness, body: str, *, retry: int | None = None) -> requests.Response:
    """POST the same bytes Slack would, freshly signed; as Slack's retry with `retry`."""
    ts = int(time.time())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
    }
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return requests.post(slack.url, data=body.encode(), headers=headers, timeout=20)


def command_body(slack: SlackHarness, text_typed: str) -> str:
    """The form Slack posts for `/reviews <text>`: one trigger id and response_url."""
    slack.last_trigger_id = slack.fake.issue_trigger_id()
    slack.last_response_url = slack.fake.new_response_url()
    return urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": USER,
            "user_name": "alice",
            "command": "/reviews",
            "text": text_typed,
            "api_app_id": slack.fake.app_id,
            "response_url": slack.last_response_url,
            "trigger_id": slack.last_trigger_id,
        }
    )


def submission_body(slack: SlackHarness, view: dict[str, Any]) -> str:
    """The form Slack posts when the send modal is submitted with valid values."""
    submitted = {
        **view,
        "state": {"values": {b: {"value": s} for b, s in send_values().items()}},
    }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "test-team"},
        "user": {"id": USER, "username": "alice", "team_id": TEAM_ID},
        "api_app_id": slack.fake.app_id,
        "trigger_id": slack.fake.issue_trigger_id(),
        "view": submitted,
        "response_urls": [],
    }
    return urlencode({"payload": json.dumps(payload)})


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # polling a listener thread's progress, not a schedule


def repeats(caplog: pytest.LogCaptureFixture) -> int:
    return sum(REPEATED in r.getMessage() for r in caplog.records)


def requests_stored(slack: SlackHarness) -> list[ReviewRequest]:
    with slack.app.db.read() as session:
        return list(session.exec(select(ReviewRequest)).all())


def cards(slack: SlackHarness) -> list[dict[str, Any]]:
    """Post what the outbox holds (pacing let through); return the cards in the channel."""
    outbox = slack.app.outbox
    assert outbox is not None
    for _ in range(10):
        outbox.run_once()
        slack.clock.advance(timedelta(seconds=2))
        with slack.app.db.read() as session:
            if not session.exec(select(SlackOutbox).where(SlackOutbox.status == "pending")).all():
                break
    return slack.fake.messages(CHANNEL)


def answers_at(slack: SlackHarness, url: str) -> list[dict[str, Any]]:
    return [r for r in slack.fake.responses if r["url"] == url]


@pytest.fixture(autouse=True)
def _listener_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="handlers.errors")


def test_a_quick_send_delivered_three_times_creates_one_request_and_one_card(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    body = command_body(slack, "send Jane Doe +33 6 10 20 30 40")
    url = slack.last_response_url

    assert deliver(slack, body).status_code == 200
    assert "#1" in text_of(slack.answer(url))
    second = deliver(slack, body)  # the same command again (Slack's own retry has the header)
    third = deliver(slack, body, retry=1)

    assert (second.status_code, second.text) == (200, "")
    assert (third.status_code, third.text) == (200, "")
    wait_until(lambda: repeats(caplog) == 2, "both repeats to be answered")
    assert [r.number for r in requests_stored(slack)] == [1]
    assert len(answers_at(slack, url)) == 1  # one confirmation, nothing new said
    assert len(cards(slack)) == 1


def test_a_modal_submitted_twice_and_retried_creates_one_request(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    view = open_send_modal(slack)
    confirm_url = slack.last_response_url  # the command's, kept in the modal's metadata
    body = submission_body(slack, view)

    first = deliver(slack, body)
    assert (first.status_code, first.text) == (200, "")
    assert "#1" in text_of(slack.answer(confirm_url))
    assert deliver(slack, body).text == ""  # a double click: the modal just closes
    assert deliver(slack, body, retry=1).text == ""

    wait_until(lambda: repeats(caplog) == 2, "both repeats to be answered")
    assert [r.number for r in requests_stored(slack)] == [1]
    assert len(answers_at(slack, confirm_url)) == 1
    assert len(cards(slack)) == 1


def test_a_double_click_in_flight_at_once_creates_one_request(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    view = open_send_modal(slack)
    body = submission_body(slack, view)
    answers: list[requests.Response] = []
    clicks = [threading.Thread(target=lambda: answers.append(deliver(slack, body))) for _ in "12"]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()

    assert [a.status_code for a in answers] == [200, 200]
    wait_until(lambda: repeats(caplog) == 1, "the second click to be answered")
    assert [r.number for r in requests_stored(slack)] == [1]
    assert len(cards(slack)) == 1


def test_a_corrected_submission_of_the_same_modal_is_a_new_delivery(slack: SlackHarness) -> None:
    view = open_send_modal(slack)
    refused = slack.post_view_submission(view, send_values(phone=typed("12")))
    assert refused.json()["response_action"] == "errors"
    assert deliver(slack, submission_body(slack, view)).text == ""
    assert [r.number for r in requests_stored(slack)] == [1]


@contextmanager
def write_locked(database_url: str) -> Iterator[None]:
    """Hold the database's write lock (SQLite) or the request table's (PostgreSQL) meanwhile."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(url.database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE review_request IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


def test_a_submission_is_answered_while_the_database_is_locked_and_created_once_after(
    slack: SlackHarness, database_url: str
) -> None:
    view = open_send_modal(slack)
    confirm_url = slack.last_response_url
    body = submission_body(slack, view)

    with write_locked(database_url):
        answer = deliver(slack, body)
        # Answered while the lock is still held: the ack did not wait for the database.
        assert (answer.status_code, answer.text) == (200, "")
        assert requests_stored(slack) == []

    # Once the lock is gone the request is created and the person told where they asked.
    assert "#1" in text_of(slack.answer(confirm_url))
    assert [r.number for r in requests_stored(slack)] == [1]
    with pytest.raises(NotFound):
        slack.ops.show(slack.ws, 2)


def test_a_refusal_after_the_fallback_ack_is_told_in_a_message(
    slack: SlackHarness, database_url: str
) -> None:
    slack.create("Jane Doe", phone="+33610203040")  # so the submission meets the cooldown
    view = open_send_modal(slack)
    body = submission_body(slack, view)

    with write_locked(database_url):
        answer = deliver(slack, body)
        assert (answer.status_code, answer.text) == (200, "")  # the modal closed: no field errors

    # The cooldown is found once the lock is gone: the person reads it in the app's messages.
    assert slack.fake.wait_for(lambda: slack.fake.messages(USER), timeout=20)
    told = text_of(slack.fake.messages(USER)[0])
    assert "already asked" in told
    assert [r.number for r in requests_stored(slack)] == [1]
