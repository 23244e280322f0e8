"""The webhook inbox: status callbacks stored and answered at once, applied after, nothing lost."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlmodel import col, select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.domain.policy import WorkspacePolicy
from bot.server import create_flask
from bot.settings import Settings
from bot.usecases.feedback import Feedback
from bot.usecases.inbox import LEASE, MAX_ATTEMPTS, Inbox
from bot.usecases.inputs import RequestCreate
from bot.usecases.review_ops import ReviewOps
from scheduler.inbox import SWEEP_AFTER, sweep
from store.db import Database
from store.models import Event, WebhookInbox
from tests.fakes import twilio_api as tw
from tests.fakes.slack_api import FakeSlack
from tests.helpers import ALICE
from tests.test_webhooks_twilio import FROM, PHONE, SID, TOKEN, Web, running, sent_sms, serving

CHANNEL = "C0REVIEWS"


ENGINES: list[Database] = []


@pytest.fixture
def web(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    with running(database_url, clock, cooldown_days=0) as served:
        yield served
    while ENGINES:
        ENGINES.pop().dispose()


def inbox_rows(web: Web) -> list[WebhookInbox]:
    with web.app.db.read() as session:
        return list(session.exec(select(WebhookInbox).order_by(col(WebhookInbox.id))).all())


def another_process(web: Web) -> Inbox:
    """An inbox on its own engine, as the scheduler of another process has."""
    db = Database(web.app.settings.database_url)
    ENGINES.append(db)
    ops = ReviewOps(db, clock=web.clock, notifier=web.notifier, default_region="US")
    return Inbox(Feedback(ops))


def test_callback_is_answered_first_and_applied_by_the_sweep(web: Web) -> None:
    number, sid = sent_sms(web)
    assert web.twilio.send_status_callback(sid, "delivered") == 200
    # Answered, stored, and not applied yet: the answer did not wait for the work.
    assert web.message(number).status == "sent"
    assert web.changes("delivered") == []
    [row] = inbox_rows(web)
    assert row.applied_at is None
    assert row.payload["sid"] == sid and row.payload["status"] == "delivered"
    assert row.payload["to"] == web.message(number).to_address  # needed to apply it

    assert sweep(web.app.inbox().inbox) == 0  # young: the web process's own thread takes it
    web.clock.advance(SWEEP_AFTER)
    assert sweep(web.app.inbox().inbox) == 1
    assert web.message(number).status == "delivered"
    assert [c.text for c in web.changes("delivered")] == ["SMS delivered"]
    [row] = inbox_rows(web)
    assert (row.applied_at, row.result) == (web.clock.now(), "applied")
    # Kept a week as evidence, without the customer's number (an erasure can't reach it here).
    assert row.payload == {
        "sid": sid,
        "status": "delivered",
        "error_code": None,
        "token": row.payload["token"],
    }
    assert sweep(web.app.inbox().inbox) == 0  # applied once


def test_an_early_stage_is_answered_and_not_stored(web: Web) -> None:
    _, sid = sent_sms(web)
    assert web.twilio.send_status_callback(sid, "queued") == 200
    assert inbox_rows(web) == []


def test_a_process_that_dies_after_answering_loses_nothing(web: Web) -> None:
    number, sid = sent_sms(web)
    assert web.twilio.send_status_callback(sid, "sent") == 200
    assert web.twilio.send_status_callback(sid, "delivered") == 200
    # The web process took the rows to apply them, then died before it could.
    dying = another_process(web)
    assert [row_id for row_id, *_ in dying._claim()] == [r.id for r in inbox_rows(web)]

    survivor = another_process(web)
    assert sweep(survivor) == 0  # the lease still holds: the dead applier might be alive
    assert web.message(number).status == "sent"
    web.clock.advance(LEASE)
    assert sweep(survivor) == 2
    assert web.message(number).status == "delivered"
    assert all(r.applied_at is not None for r in inbox_rows(web))


def test_a_process_that_dies_before_taking_the_rows_loses_nothing(web: Web) -> None:
    number, sid = sent_sms(web)
    assert web.twilio.send_status_callback(sid, "delivered") == 200
    web.clock.advance(SWEEP_AFTER)
    assert sweep(another_process(web)) == 1
    assert web.message(number).status == "delivered"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duplicates_and_shuffled_callbacks_end_the_same(web: Web, seed: int) -> None:
    number, sid = sent_sms(web)
    words = ["sent", "delivered", "read", "sent", "delivered", "read", "sending"]
    random.Random(seed).shuffle(words)
    for word in words:
        assert web.twilio.send_status_callback(sid, word) == 200
    assert web.apply_inbox() == len(words)
    message = web.message(number)
    assert message.status == "read"
    assert message.delivered_at is not None and message.read_at is not None
    keys = [e.dedup_key for e in web.events(number) if (e.dedup_key or "").startswith("twilio:")]
    assert len(keys) == len(set(keys))  # each status applied once, whatever came twice
    assert len(web.changes("read")) == 1
    assert {r.result for r in inbox_rows(web)} <= {"applied", "duplicate", "ignored"}


def test_bad_signature_or_oversized_body_stores_nothing(web: Web) -> None:
    _, sid = sent_sms(web)
    url = f"{web.url}/webhooks/twilio/status"
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": SID, "To": PHONE}
    forged = {"X-Twilio-Signature": tw.sign_request("not-the-token", url, params)}
    assert requests.post(url, data=params, headers=forged, timeout=5).status_code == 403
    big = {**params, "Body": "x" * 70_000}
    signed = {"X-Twilio-Signature": tw.sign_request(TOKEN, url, big)}
    assert requests.post(url, data=big, headers=signed, timeout=5).status_code == 413
    # Chunked, so of no announced length: refused once one byte more than allowed was read.
    chunks = iter([b"MessageSid=", sid.encode(), b"&Body=" + b"x" * 70_000])
    signed = {"X-Twilio-Signature": tw.sign_request(TOKEN, url, params)}
    assert requests.post(url, data=chunks, headers=signed, timeout=5).status_code == 413
    assert inbox_rows(web) == []


def test_what_is_stored_is_bounded(web: Web) -> None:
    url = f"{web.url}/webhooks/twilio/status"
    params = {
        "MessageSid": "SM" + "9" * 500,
        "MessageStatus": "delivered",
        "AccountSid": SID,
        "To": "+1" * 300,
        "Extra": "y" * 5000,
    }
    signed = {"X-Twilio-Signature": tw.sign_request(TOKEN, url, params)}
    assert requests.post(url, data=params, headers=signed, timeout=5).status_code == 200
    [row] = inbox_rows(web)
    assert set(row.payload) == {"sid", "to", "status", "error_code", "token"}
    assert len(row.payload["sid"]) == 64 and len(row.payload["to"]) == 64
    assert web.apply_inbox() == 1
    assert inbox_rows(web)[0].result == "not_found"


def test_a_row_that_keeps_failing_is_retried_later_then_set_aside(web: Web) -> None:
    with web.app.db.write() as session:
        session.add(WebhookInbox(source="retired", payload={}, received_at=web.clock.now()))
    inbox = web.app.inbox().inbox
    for attempt in range(1, MAX_ATTEMPTS):
        assert inbox.apply_batch() == 0
        [row] = inbox_rows(web)
        assert (row.attempts, row.applied_at) == (attempt, None)
        assert inbox.apply_batch() == 0 and inbox_rows(web)[0].attempts == attempt  # not yet
        web.clock.advance(timedelta(hours=1))
    inbox.apply_batch()
    [row] = inbox_rows(web)
    assert (row.attempts, row.result) == (MAX_ATTEMPTS, "error")
    assert inbox.pending() == 0


def test_applied_rows_are_deleted_after_a_week(web: Web) -> None:
    _, sid = sent_sms(web)
    web.twilio.send_status_callback(sid, "sent")
    web.apply_inbox()
    web.twilio.send_status_callback(sid, "delivered")  # stays pending
    web.clock.advance(timedelta(days=8))
    sweep_inbox = web.app.inbox().inbox
    assert sweep_inbox.purge() == 1
    [row] = inbox_rows(web)
    assert row.payload["status"] == "delivered" and row.applied_at is None


def test_the_web_process_applies_what_it_stored_in_its_own_thread(
    database_url: str, clock: FrozenClock
) -> None:
    with running(database_url, clock, cooldown_days=0, background_inbox=True) as web:
        number, sid = sent_sms(web)
        assert web.twilio.send_status_callback(sid, "delivered") == 200
        # The route woke the thread before answering: wait for it to be idle, not for a time.
        assert web.app.inbox().wait_idle(timeout=30)
        assert web.message(number).status == "delivered"
        assert web.app.inbox().inbox.pending() == 0


# --- the thread reply reaches Slack ----------------------------------------------------------


@contextmanager
def slack_app(database_url: str, clock: FrozenClock) -> Iterator[tuple[Any, FakeSlack, Any]]:
    with (
        FakeSlack() as slack,
        tw.FakeTwilio(SID, TOKEN, now=clock.now) as twilio,
        serving() as (url, late),
    ):
        settings = Settings(
            _env_file=None,
            DATABASE_URL=database_url,
            PUBLIC_URL=url,
            DEFAULT_REGION="US",
            TWILIO_ACCOUNT_SID=SID,
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_FROM=FROM,
            TWILIO_API_URL=twilio.url,
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_SIGNING_SECRET="secret",  # noqa: S106 - a test secret
            SLACK_API_URL=slack.api_url,
        )
        app = create_app(settings, clock=clock)
        app.inbox_in_background = False
        late.wsgi = create_flask(app).wsgi_app
        try:
            yield app, slack, twilio
        finally:
            app.close()


def test_the_thread_reply_still_reaches_slack(database_url: str, clock: FrozenClock) -> None:
    with slack_app(database_url, clock) as (app, slack, twilio):
        workspace = app.ops.ensure_workspace(slack.team_id, "Acme")
        assert workspace.id is not None
        base = WorkspacePolicy.model_validate(workspace.policy)
        policy = {**base.model_dump(), "send_window": "always", "business_name": "Acme"}
        app.ops.update_policy(workspace.id, WorkspacePolicy.model_validate(policy), ALICE)
        values = {"name": "Jane Doe", "phone": PHONE, "method": "sms", "origin_channel": CHANNEL}
        created = app.ops.create(workspace.id, RequestCreate(**values), ALICE)
        assert app.dispatcher.run_until_idle() == 1
        assert app.outbox is not None
        drain(app, clock)
        [card] = slack.messages(CHANNEL)
        [sid] = [m["sid"] for m in twilio.accepted]
        assert twilio.send_status_callback(sid, "delivered") == 200
        clock.advance(SWEEP_AFTER)
        assert sweep(app.inbox().inbox) == 1
        drain(app, clock)
        replies = [m["text"] for m in slack.thread(CHANNEL, card["ts"])]
        assert any("SMS delivered" in text for text in replies), replies
        detail = app.ops.show(workspace.id, created.number)
        assert detail.request.status == "delivered"


def drain(app: Any, clock: FrozenClock) -> None:
    for _ in range(20):
        app.outbox.run_once()
        clock.advance(timedelta(seconds=1))


# --- several appliers ------------------------------------------------------------------------


def test_two_appliers_never_apply_a_row_twice(web: Web) -> None:
    sids, numbers = [], []
    for i in range(12):
        number, sid = sent_sms(web, phone=f"+336155501{i:02d}")
        sids.append(sid)
        numbers.append(number)
    for sid in sids:
        for word in ("sent", "delivered", "read"):
            web.twilio.send_status_callback(sid, word)
    total = len(inbox_rows(web))
    appliers = [another_process(web), another_process(web)]
    for applier in appliers:
        applier.batch_size = 5
    counts = [0, 0]
    start = threading.Barrier(2)

    def run(index: int) -> None:
        start.wait()
        counts[index] = appliers[index].apply_pending()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == total  # a row taken by both would be counted twice
    rows = inbox_rows(web)
    assert all(r.applied_at is not None for r in rows)
    # Out of order across the two, a "sent" after "read" changes nothing: never a duplicate.
    assert {r.result for r in rows} <= {"applied", "ignored"}
    with web.app.db.read() as session:
        events = session.exec(select(Event).where(col(Event.dedup_key).is_not(None))).all()
    assert len(events) == sum(r.result == "applied" for r in rows)
    assert all(web.message(n).status == "read" for n in numbers)
