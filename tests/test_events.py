"""Outbound events end to end: the real use-cases write event rows through EventNotifier, the
real job posts them with requests to a local receiver that checks the signature as a
customer's code does (standardwebhooks)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from standardwebhooks.webhooks import Webhook

from bot.app import create_app
from bot.clock import FrozenClock
from bot.domain.events import MAX_AGE, MAX_ATTEMPTS
from bot.domain.policy import WorkspacePolicy
from bot.metrics import Metrics
from bot.settings import Settings
from bot.usecases.actors import Actor
from bot.usecases.events import EventNotifier
from bot.usecases.feedback import Feedback
from bot.usecases.inputs import RequestCreate
from bot.usecases.notifier import Notifiers, RecordingNotifier
from scheduler.events import LEASE, EventSender
from store import event_outbox as store_rows
from store.db import Database
from store.integration_models import EventOutbox
from store.models import Message, ReviewRequest
from tests.fakes.event_receiver import SLOW, Attempt, EventReceiver
from tests.fakes.slack_api import FakeSlack
from tests.helpers import ALICE, Engine

SECRET = "whsec_" + base64.b64encode(bytes(range(7, 39))).decode()
PHONE = "+33610203040"
EMAIL = "jane.doe@example.com"
BOB = Actor("U0BOB", "bob")


class Setup:
    """The engine writing events (and a recorder for Slack), the job and a receiver."""

    def __init__(
        self, db: Database, clock: FrozenClock, receiver: EventReceiver | None, **policy: Any
    ) -> None:
        if receiver is not None:
            policy = {"events_url": receiver.url, "events_secret": SECRET, **policy}
        self.db, self.clock = db, clock
        self.slack = RecordingNotifier()
        self.engine = Engine(
            db, clock, notifier=Notifiers([self.slack, EventNotifier(clock)]), **policy
        )
        self.ops, self.ws = self.engine.ops, self.engine.ws
        self.metrics = Metrics()
        self.sender = EventSender(
            db, clock, metrics=self.metrics, timeout=(2.0, 0.5), spread=lambda: 0.5
        )

    def create(self, **fields: Any) -> ReviewRequest:
        fields.setdefault("name", "Jane Doe")
        fields.setdefault("phone", PHONE)
        fields.setdefault("reference", "ORDER-1001")
        return self.ops.create(self.ws, RequestCreate(**fields), ALICE)

    def rows(self) -> list[EventOutbox]:
        with self.db.read() as session:
            return list(session.exec(select(EventOutbox).order_by(col(EventOutbox.id))).all())

    def message(self, number: int) -> Message:
        with self.db.read() as session:
            return session.exec(
                select(Message)
                .join(ReviewRequest, col(ReviewRequest.id) == col(Message.request_id))
                .where(ReviewRequest.number == number, ReviewRequest.workspace_id == self.ws)
            ).one()

    def counted(self, result: str) -> float:
        value = self.metrics.registry.get_sample_value("reviewops_events_total", {"result": result})
        return value or 0.0


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[EventReceiver]:
    with EventReceiver(SECRET, clock.now) as server:
        yield server


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until true or `timeout` seconds passed (waiting on another thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def test_a_request_life_reaches_the_receiver_signed_in_order_without_personal_data(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver)
    request = setup.create()
    assert setup.engine.dispatcher.run_once() == 1
    message = setup.message(request.number)
    assert message.provider_id
    feedback = Feedback(setup.ops)
    feedback.twilio_status(sid=message.provider_id, status="delivered", to=PHONE)
    clock.advance(timedelta(minutes=5))
    feedback.click(message.token, counted=True)

    assert setup.sender.run_once() == 4
    assert setup.sender.run_once() == 0
    assert all(a.verified for a in receiver.attempts)
    assert len(receiver.attempts) == 4
    assert types(receiver.taken) == [
        "request.created",
        "request.sent",
        "request.delivered",
        "request.clicked",
    ]
    sent = receiver.taken[1]
    assert sent["data"]["request"] == {
        "number": request.number,
        "reference": "ORDER-1001",
        "status": "sent",
        "channel": "sms",
        "review_type": "service",
        "created_at": "2026-11-23T10:00:00Z",
        "sent_at": "2026-11-23T10:00:00Z",
    }
    assert sent["data"]["message"] == {
        "kind": "initial",
        "channel": "sms",
        "status": "sent",
        "provider": "console",
        "provider_id": message.provider_id,
        "error_code": None,
    }
    assert sent["data"]["workspace"] == "T0001"
    assert receiver.taken[0]["data"]["message"] is None
    assert receiver.taken[3]["data"]["request"]["status"] == "clicked"
    assert receiver.taken[3]["timestamp"] == "2026-11-23T10:05:00Z"
    for attempt in receiver.attempts:
        assert attempt.headers["webhook-id"] == attempt.event["id"]
        assert attempt.headers["content-type"] == "application/json"
        for secret_word in ("Jane", "0610203040", "+33", "610 20", EMAIL, SECRET):
            assert secret_word not in attempt.body.decode()
    assert [r.status for r in setup.rows()] == ["done"] * 4
    assert setup.counted("delivered") == 4


def test_a_customer_verifies_with_the_standard_webhooks_library(db: Database) -> None:
    # The library checks the timestamp against the real time: run this one on it.
    now = FrozenClock(datetime.now(UTC))
    with EventReceiver(SECRET, now.now) as receiver:
        setup = Setup(db, now, receiver)
        setup.create()
        assert setup.sender.run_once() == 1
    attempt = receiver.attempts[0]
    event = Webhook(SECRET).verify(attempt.body, attempt.headers)
    assert event["type"] == "request.created"
    tampered = attempt.body.replace(b"ORDER-1001", b"ORDER-1002")
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(tampered, attempt.headers)
    with pytest.raises(Exception, match="signature"):
        other = "whsec_" + base64.b64encode(bytes(32)).decode()
        Webhook(other).verify(attempt.body, attempt.headers)


def test_a_workspace_with_no_url_writes_nothing(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, None)
    request = setup.create()
    setup.engine.dispatcher.run_once()
    setup.ops.cancel(setup.ws, [request.number], BOB)
    assert setup.slack.changes  # the team was told
    assert setup.rows() == []
    assert setup.sender.run_once() == 0
    assert receiver.attempts == []


def test_5xx_and_timeouts_are_retried_with_backoff_the_same_id_and_order_kept(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    request = setup.create()
    setup.ops.pause(setup.ws, [request.number], BOB)
    receiver.answers = [503, SLOW]

    assert setup.sender.run_once() == 0  # 503: the pause waits behind the creation
    first, second = setup.rows()
    assert (first.attempts, first.status, first.last_error) == (1, "pending", "HTTP 503")
    assert first.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert second.attempts == 0
    assert len(receiver.attempts) == 1

    clock.advance(timedelta(seconds=29))
    assert setup.sender.run_once() == 0  # not due yet
    assert len(receiver.attempts) == 1

    clock.advance(timedelta(seconds=1))
    assert setup.sender.run_once() == 0  # taken by the receiver, but no answer in time
    first = setup.rows()[0]
    assert (first.attempts, first.last_error) == (2, "no answer in time")
    assert first.next_attempt_at == clock.now() + timedelta(minutes=1)

    clock.advance(timedelta(minutes=1))
    assert setup.sender.run_once() == 2
    assert types(receiver.taken) == ["request.created", "request.paused"]
    ids = [a.headers["webhook-id"] for a in receiver.attempts]
    assert ids[:3] == [ids[0]] * 3 and ids[3] != ids[0]
    assert receiver.duplicates == [ids[0]]  # at least once: the receiver drops it by id
    stamps = [int(a.headers["webhook-timestamp"]) for a in receiver.attempts[:3]]
    assert stamps[0] < stamps[1] < stamps[2]  # each attempt signed anew
    assert setup.counted("retried") == 2 and setup.counted("delivered") == 2


def test_workspaces_do_not_wait_for_each_other(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    other = setup.ops.ensure_workspace("T0002", "Other")
    assert other.id is not None
    base = WorkspacePolicy.model_validate(other.policy).model_dump()
    policy = {**base, "events_url": receiver.url, "events_secret": SECRET, "region": "FR"}
    setup.ops.update_policy(other.id, WorkspacePolicy.model_validate(policy), ALICE)
    setup.ops.create(other.id, RequestCreate(name="Al", phone=PHONE, reference="B-7"), ALICE)
    # The two workspaces post side by side, so the failure is chosen by workspace, not turn.
    receiver.answer_for = lambda attempt: (
        500 if attempt.event["data"]["workspace"] == "T0001" else None
    )
    assert setup.sender.run_once() == 1
    assert [e["data"]["workspace"] for e in receiver.taken] == ["T0002"]
    assert sorted(a.event["data"]["workspace"] for a in receiver.attempts) == ["T0001", "T0002"]


def test_a_receiver_that_hangs_holds_back_its_own_events_only(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()  # the first workspace's receiver will hang: it is posted to first
    with EventReceiver(SECRET, clock.now) as other_receiver:
        other = setup.ops.ensure_workspace("T0002", "Other")
        assert other.id is not None
        base = WorkspacePolicy.model_validate(other.policy).model_dump()
        policy = {**base, "events_url": other_receiver.url, "events_secret": SECRET}
        setup.ops.update_policy(other.id, WorkspacePolicy.model_validate({**policy}), ALICE)
        setup.ops.create(other.id, RequestCreate(name="Al", phone=PHONE, reference="B-7"), ALICE)
        receiver.answers = [SLOW]
        # A read timeout far longer than the test waits: one after the other, the second
        # workspace's event would wait for the first's.
        sender = EventSender(db, clock, timeout=(2.0, 60.0), spread=lambda: 0.5)
        done: list[int] = []
        runner = threading.Thread(target=lambda: done.append(sender.run_once()))
        runner.start()
        try:
            assert wait_for(lambda: bool(other_receiver.taken), timeout=10)
            assert [e["data"]["workspace"] for e in other_receiver.taken] == ["T0002"]
            assert runner.is_alive()  # the first receiver still holds its answer
        finally:
            receiver.release.set()
            runner.join(timeout=30)
            sender.close()
        assert done == [2]


def test_a_worker_whose_lease_ran_out_changes_nothing(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    other_worker = EventSender(db, clock, timeout=(2.0, 2.0))
    receiver.answers = [SLOW]

    def stall(attempt: Attempt) -> None:
        receiver.on_attempt = None
        clock.advance(LEASE + timedelta(seconds=1))  # the first worker froze past its lease
        assert other_worker.run_once() == 1
        receiver.release.set()

    receiver.on_attempt = stall
    assert setup.sender.run_once() == 0  # its answer came too late: the lease was lost
    row = setup.rows()[0]
    assert (row.status, row.attempts) == ("done", 1)
    assert len(receiver.attempts) == 2 and len(receiver.taken) == 1
    assert receiver.duplicates == [row.event_id]


def test_redirects_are_not_followed(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    receiver.answers = [302]
    assert setup.sender.run_once() == 0
    assert len(receiver.attempts) == 1
    assert setup.rows()[0].last_error == "HTTP 302 (redirects are not followed)"


def test_an_unreachable_receiver_is_retried(db: Database, clock: FrozenClock) -> None:
    with EventReceiver(SECRET, clock.now) as gone:
        url = gone.url
    setup = Setup(db, clock, None, delay="1d", events_url=url, events_secret=SECRET)
    setup.create()
    assert setup.sender.run_once() == 0
    row = setup.rows()[0]
    assert row.status == "pending" and (row.last_error or "").startswith("could not connect")


def test_an_event_is_dropped_after_its_last_try_and_the_next_one_goes(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    request = setup.create()
    receiver.answers = [500] * MAX_ATTEMPTS
    for _ in range(MAX_ATTEMPTS):
        setup.sender.run_once()
        clock.set(setup.rows()[0].next_attempt_at)
    dropped = setup.rows()[0]
    assert (dropped.status, dropped.attempts) == ("dropped", MAX_ATTEMPTS)
    assert dropped.last_error == f"dropped after {MAX_ATTEMPTS} tries: HTTP 500"
    assert len(receiver.attempts) == MAX_ATTEMPTS
    assert setup.counted("dropped") == 1
    setup.ops.pause(setup.ws, [request.number], BOB)
    assert setup.sender.run_once() == 1
    assert types(receiver.taken) == ["request.paused"]


def test_an_event_older_than_the_limit_is_dropped_unsent(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    clock.advance(MAX_AGE)
    assert setup.sender.run_once() == 0
    assert receiver.attempts == []
    assert setup.rows()[0].status == "dropped"


def test_turning_events_off_drops_what_waits(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    policy = setup.ops.policy(setup.ws).model_dump()
    policy.update(events_url="", events_secret="")
    setup.ops.update_policy(setup.ws, WorkspacePolicy.model_validate(policy), ALICE)
    assert setup.sender.run_once() == 0
    assert receiver.attempts == []
    row = setup.rows()[0]
    assert row.status == "dropped" and "turned off" in (row.last_error or "")


def test_deleting_a_request_erases_its_reference_from_the_queue(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    request = setup.create()
    setup.ops.delete(setup.ws, request.number, BOB)
    assert setup.sender.run_once() == 2
    assert types(receiver.taken) == ["request.created", "request.deleted"]
    assert "ORDER-1001" not in json.dumps([a.event for a in receiver.attempts])


def test_a_long_backlog_does_not_hold_back_other_workspaces(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    first = setup.create()
    setup.ops.pause(setup.ws, [first.number], BOB)
    setup.ops.resume(setup.ws, [first.number], BOB)
    other = setup.ops.ensure_workspace("T0002", "Other")
    assert other.id is not None
    base = WorkspacePolicy.model_validate(other.policy).model_dump()
    policy = {**base, "events_url": receiver.url, "events_secret": SECRET, "region": "FR"}
    setup.ops.update_policy(other.id, WorkspacePolicy.model_validate(policy), ALICE)
    setup.ops.create(other.id, RequestCreate(name="Al", phone=PHONE, reference="B-7"), ALICE)
    sender = EventSender(db, clock, per_workspace=2)
    assert sender.run_once() == 3
    # In order within each workspace; the workspaces are posted to side by side.
    by_workspace = {
        ws: [e["type"] for e in receiver.taken if e["data"]["workspace"] == ws]
        for ws in ("T0001", "T0002")
    }
    assert by_workspace == {
        "T0001": ["request.created", "request.paused"],
        "T0002": ["request.created"],
    }
    assert sender.run_once() == 1
    assert types(receiver.taken)[-1] == "request.resumed"


def test_a_worker_stopped_holding_an_event_delays_it_until_its_lease_ends(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    row = setup.rows()[0]
    assert row.id is not None
    with db.write() as session:  # a worker took it and was killed before posting or settling
        assert store_rows.take(session, row.id, clock.now(), clock.now() + LEASE) is not None
    assert setup.sender.run_once() == 0
    assert receiver.attempts == []
    clock.advance(LEASE)
    assert setup.sender.run_once() == 1
    assert types(receiver.taken) == ["request.created"] and receiver.duplicates == []


def test_the_app_tells_slack_and_the_events_url_in_the_change_transaction(
    database_url: str, clock: FrozenClock, receiver: EventReceiver
) -> None:
    with FakeSlack() as slack:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=database_url,
            DEFAULT_REGION="FR",
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_SIGNING_SECRET="s",
            SLACK_API_URL=slack.api_url,
        )
        app = create_app(settings, clock=clock)
        try:
            workspace = app.ops.ensure_workspace("T0001", "Acme")
            assert workspace.id is not None
            values = {
                **workspace.policy,
                "notify_channel": "C0NOTIFY",
                "events_url": receiver.url,
                "events_secret": SECRET,
            }
            app.ops.update_policy(workspace.id, WorkspacePolicy.model_validate(values), ALICE)
            app.ops.create(workspace.id, RequestCreate(name="Jane Doe", phone=PHONE), ALICE)
            pending = ("reviewops_event_outbox_pending", {})
            assert app.metrics.registry.get_sample_value(*pending) == 1
            assert app.events is not None and app.outbox is not None
            assert app.events.run_once() == 1
            app.outbox.run_once()
            assert types(receiver.taken) == ["request.created"]
            assert len(slack.messages("C0NOTIFY")) == 1
            assert app.metrics.registry.get_sample_value(*pending) == 0
            delivered = ("reviewops_events_total", {"result": "delivered"})
            assert app.metrics.registry.get_sample_value(*delivered) == 1
        finally:
            app.close()


def test_a_stopping_worker_takes_no_more_events(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    setup.sender.stop()
    assert setup.sender.run_once() == 0
    assert receiver.attempts == [] and setup.rows()[0].status == "pending"
