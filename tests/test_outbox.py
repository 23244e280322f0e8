"""The Slack outbox job against the fake Slack Web API, through the real slack_sdk WebClient."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.delivery.base import Outcome, OutgoingMessage, SendResult
from bot.usecases.actors import Actor
from bot.usecases.inputs import RequestCreate
from bot.usecases.review_ops import ReviewOps
from handlers.blocks.card import (
    ACTION_CANCEL,
    ACTION_PAUSE,
    ACTION_RESUME,
    ACTION_SEND_NOW,
    ERASED_TEXT,
)
from handlers.blocks.limits import MAX_MESSAGE_BLOCKS as MAX_BLOCKS
from handlers.blocks.limits import MAX_TEXT
from handlers.outbox_writer import SlackNotifier
from scheduler.outbox import OutboxSender, backoff_seconds
from scheduler.slack_clients import WorkspaceClients, slack_client
from store.db import Database
from store.models import ReviewRequest, SlackOutbox, Workspace
from tests.fakes.slack_api import FakeSlack
from tests.helpers import ALICE, Engine

CHANNEL = "C0REVIEWS"
ALERTS = "C0ALERTS"
PHONE = "+33610203040"
EMAIL = "jane.doe@example.com"
BOB = Actor("U0BOB", "bob")
SECOND = timedelta(seconds=1)


class RefusingSender:
    """A provider stand-in that refuses every message, quoting the number like Twilio does."""

    name = "refusing"

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(
            Outcome.FAILED,
            "refusing",
            error_code="21211",
            reason=f"The 'To' number {message.to} is not a valid phone number.",
        )


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


class Setup:
    """The real use-cases writing through SlackNotifier, and the outbox job posting to the fake."""

    def __init__(
        self,
        db: Database,
        clock: FrozenClock,
        fake: FakeSlack,
        *,
        client: WebClient | None = None,
        senders: dict[str, Any] | None = None,
        **policy: object,
    ) -> None:
        self.db = db
        self.clock = clock
        self.fake = fake
        self.engine = Engine(db, clock, notifier=SlackNotifier(clock), senders=senders, **policy)
        self.ops: ReviewOps = self.engine.ops
        self.ws = self.engine.ws
        self.client = client or slack_client(fake.bot_token, base_url=fake.api_url)
        self.outbox = OutboxSender(db, self.client_for, clock)

    def client_for(self, workspace_id: int) -> WebClient | None:
        return self.client

    def create(self, **fields: Any) -> ReviewRequest:
        fields.setdefault("name", "Jane Doe")
        fields.setdefault("phone", "06 10 20 30 40")
        fields.setdefault("origin_channel", CHANNEL)
        return self.ops.create(self.ws, RequestCreate(**fields), ALICE)

    def drain(self, max_runs: int = 50) -> None:
        """Run the job, a second apart, until nothing is pending."""
        for _ in range(max_runs):
            self.outbox.run_once()
            if not self.pending():
                return
            self.clock.advance(SECOND)
        raise AssertionError(f"still pending: {self.pending()}")

    def rows(self) -> list[SlackOutbox]:
        with self.db.read() as session:
            return list(session.exec(select(SlackOutbox).order_by(col(SlackOutbox.id))).all())

    def pending(self) -> list[SlackOutbox]:
        return [r for r in self.rows() if r.status == "pending"]

    def request(self, number: int) -> ReviewRequest:
        with self.db.read() as session:
            found = session.exec(
                select(ReviewRequest).where(
                    ReviewRequest.workspace_id == self.ws, ReviewRequest.number == number
                )
            ).one()
            return found


def action_ids(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def all_text(fake: FakeSlack) -> str:
    """Everything the fake Slack was sent, as one string."""
    return json.dumps(fake.all_sent(), default=str)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


# --- the card and its thread ----------------------------------------------------------------


def test_root_posted_once_with_masked_contact_and_buttons(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    request = setup.create(email=EMAIL, method="sms_and_email")
    assert setup.outbox.run_once() == 1
    assert setup.outbox.run_once() == 0
    clock.advance(SECOND)
    assert setup.outbox.run_once() == 0

    messages = fake.messages(CHANNEL)
    assert len(messages) == 1
    root = messages[0]
    assert f"#{request.number}" in root["text"]
    assert action_ids(root) == [ACTION_PAUSE, ACTION_SEND_NOW, ACTION_CANCEL]
    assert "Jane Doe" in json.dumps(root["blocks"])
    stored = setup.request(request.number)
    assert stored.slack_channel == CHANNEL
    assert stored.slack_ts == root["ts"]
    assert [r.status for r in setup.rows()] == ["done"]
    assert PHONE not in all_text(fake) and EMAIL not in all_text(fake)
    assert "0610203040" not in all_text(fake)


def test_replies_carry_the_root_ts_and_the_card_follows_the_status(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    request = setup.create()
    setup.drain()
    root_ts = setup.request(request.number).slack_ts
    assert root_ts

    setup.ops.pause(setup.ws, [request.number], BOB)
    setup.drain()
    card = fake.message(CHANNEL, root_ts)
    assert action_ids(card) == [ACTION_RESUME, ACTION_SEND_NOW, ACTION_CANCEL]
    assert "paused" in card["text"]

    setup.ops.cancel(setup.ws, [request.number], BOB)
    setup.drain()
    card = fake.message(CHANNEL, root_ts)
    assert action_ids(card) == []
    assert "canceled" in card["text"]

    replies = [m["text"] for m in fake.thread(CHANNEL, root_ts) if m["ts"] != root_ts]
    assert replies == ["Paused by <@U0BOB>", "Canceled by <@U0BOB>"]
    assert len(fake.messages(CHANNEL)) == 1  # replies stay in the thread
    for call in fake.calls_to("chat.postMessage")[1:]:
        assert call["thread_ts"] == root_ts
    assert [c["ts"] for c in fake.calls_to("chat.update")] == [root_ts, root_ts]


def test_order_within_a_thread_is_kept(db: Database, clock: FrozenClock, fake: FakeSlack) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    request = setup.create()
    # Everything happens before the job runs once: the replies must wait for the root.
    setup.ops.pause(setup.ws, [request.number], BOB)
    setup.ops.resume(setup.ws, [request.number], BOB)
    setup.ops.pause(setup.ws, [request.number], ALICE)
    setup.drain()
    root_ts = setup.request(request.number).slack_ts
    assert root_ts
    replies = [m["text"] for m in fake.thread(CHANNEL, root_ts) if m["ts"] != root_ts]
    assert replies == ["Paused by <@U0BOB>", "Resumed by <@U0BOB>", "Paused by <@U0ALICE>"]
    posts = fake.calls_to("chat.postMessage")
    assert "thread_ts" not in posts[0] or not posts[0]["thread_ts"]
    # Only the newest card update is drawn: older ones are superseded, not posted.
    updates = fake.calls_to("chat.update")
    assert len(updates) == 1
    assert action_ids(fake.message(CHANNEL, root_ts)) == [
        ACTION_RESUME,
        ACTION_SEND_NOW,
        ACTION_CANCEL,
    ]


def test_pacing_one_message_per_channel_per_second(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    setup.create()
    setup.create(phone="06 11 11 11 11")
    setup.create(phone="06 22 22 22 22", origin_channel="C0OTHER")
    assert setup.outbox.run_once() == 2  # one per channel
    assert setup.outbox.run_once() == 0  # same clock time: the channel is still busy
    assert len(fake.messages(CHANNEL)) == 1
    assert len(fake.messages("C0OTHER")) == 1
    clock.advance(timedelta(milliseconds=500))
    assert setup.outbox.run_once() == 0
    clock.advance(timedelta(milliseconds=500))
    assert setup.outbox.run_once() == 1
    assert [m["text"].split()[0] for m in fake.messages(CHANNEL)] == ["#1", "#2"]


def test_a_run_a_little_early_still_posts_and_edits_do_not_take_a_posts_turn(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    first = setup.create()
    setup.create(phone="06 11 11 11 11")
    setup.create(phone="06 22 22 22 22")
    assert setup.outbox.run_once() == 1
    # The job's next run starts a few ms before the second is over: the channel is free.
    clock.advance(timedelta(milliseconds=950))
    assert setup.outbox.run_once() == 1
    setup.ops.pause(setup.ws, [first.number], ALICE)  # a reply and a card update for #1
    clock.advance(timedelta(milliseconds=950))
    assert setup.outbox.run_once() == 1  # #3's card, the oldest row
    clock.advance(timedelta(milliseconds=950))
    # #1's reply, then its card update at once: an edit does not wait for the posts' pace.
    assert setup.outbox.run_once() == 2
    assert [c for c, _ in fake.calls if c.startswith("chat.")].count("chat.update") == 1
    assert [m["text"].split()[0] for m in fake.messages(CHANNEL)] == ["#1", "#2", "#3"]


# --- alerts ---------------------------------------------------------------------------------


def test_alert_goes_to_the_alert_channel_with_a_thread_link(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, senders={"sms": RefusingSender()}, alert_channel=ALERTS)
    request = setup.create(when="now")
    setup.engine.dispatcher.run_until_idle()
    setup.drain()
    alerts = fake.messages(ALERTS)
    assert len(alerts) == 1
    root_ts = setup.request(request.number).slack_ts
    assert root_ts
    alert = alerts[0]
    assert f"#{request.number}" in alert["text"]
    assert "not a valid phone number" in alert["text"]
    assert f"p{root_ts.replace('.', '')}" in alert["text"]
    assert alert["blocks"]
    assert PHONE not in all_text(fake) and "0610203040" not in all_text(fake)
    assert not [m for m in fake.thread(CHANNEL, root_ts) if m.get("reply_broadcast")]


def test_alert_without_alert_channel_is_broadcast_from_the_thread(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, senders={"sms": RefusingSender()})
    request = setup.create(when="now")
    setup.engine.dispatcher.run_until_idle()
    setup.drain()
    root_ts = setup.request(request.number).slack_ts
    broadcasts = [c for c in fake.calls_to("chat.postMessage") if c.get("reply_broadcast")]
    assert len(broadcasts) == 1
    assert broadcasts[0]["thread_ts"] == root_ts
    assert "not a valid phone number" in broadcasts[0]["text"]
    assert PHONE not in all_text(fake)


# --- failures -------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_posts_once(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake)
    setup.create()
    fake.fail_next("chat.postMessage", status=429, retry_after=3)
    assert setup.outbox.run_once() == 0
    assert fake.messages(CHANNEL) == []
    (row,) = setup.pending()
    assert row.next_attempt_at == clock.now() + timedelta(seconds=3)
    assert row.attempts == 0
    assert row.last_error == "ratelimited"
    clock.advance(timedelta(seconds=2))
    assert setup.outbox.run_once() == 0  # Retry-After not over yet
    clock.advance(SECOND)
    assert setup.outbox.run_once() == 1
    assert len(fake.messages(CHANNEL)) == 1
    assert len(fake.calls_to("chat.postMessage")) == 2  # the refused one and the one that went
    registry = setup.outbox.metrics.registry
    for result in ("ratelimited", "ok"):
        labels = {"kind": "root", "result": result}
        assert registry.get_sample_value("reviewops_slack_posts_total", labels) == 1


def test_500_is_retried_with_backoff(db: Database, clock: FrozenClock, fake: FakeSlack) -> None:
    setup = Setup(db, clock, fake)
    setup.create()
    fake.fail_next("chat.postMessage", status=500)
    fake.fail_next("chat.postMessage", status=503)
    start = clock.now()
    assert setup.outbox.run_once() == 0
    (row,) = setup.pending()
    assert (row.attempts, row.next_attempt_at) == (1, start + timedelta(seconds=2))
    clock.advance(SECOND)
    assert setup.outbox.run_once() == 0  # backing off
    clock.advance(SECOND)
    assert setup.outbox.run_once() == 0  # second failure
    (row,) = setup.pending()
    assert (row.attempts, row.next_attempt_at) == (2, clock.now() + timedelta(seconds=4))
    clock.advance(timedelta(seconds=4))
    assert setup.outbox.run_once() == 1
    assert len(fake.messages(CHANNEL)) == 1
    assert [backoff_seconds(n) for n in (1, 2, 3, 8, 9, 20)] == [2, 4, 8, 256, 300, 300]


def test_slack_down_keeps_rows_then_delivers_in_order(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    down = slack_client(fake.bot_token, base_url=closed_port_url())
    setup = Setup(db, clock, fake, client=down, delay="1h")
    request = setup.create()
    setup.ops.pause(setup.ws, [request.number], BOB)
    for _ in range(10):
        setup.outbox.run_once()
        clock.advance(timedelta(minutes=1))
    rows = setup.rows()
    assert [r.status for r in rows] == ["pending"] * 3
    assert rows[0].attempts >= 3 and rows[0].last_error
    assert [r.attempts for r in rows[1:]] == [0, 0]  # the replies waited behind the root

    setup.client = slack_client(fake.bot_token, base_url=fake.api_url)
    clock.advance(timedelta(minutes=5))
    setup.drain()
    root_ts = setup.request(request.number).slack_ts
    assert root_ts
    assert [m["text"] for m in fake.thread(CHANNEL, root_ts) if m["ts"] != root_ts] == [
        "Paused by <@U0BOB>"
    ]
    assert len(fake.messages(CHANNEL)) == 1


def test_permanent_error_kills_the_root_and_what_needed_it(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    request = setup.create()
    setup.ops.pause(setup.ws, [request.number], BOB)
    fake.fail_next("chat.postMessage", status=200, error="channel_not_found")
    setup.outbox.run_once()
    clock.advance(SECOND)
    setup.outbox.run_once()
    rows = setup.rows()
    assert [(r.kind, r.status) for r in rows] == [
        ("root", "dead"),
        ("reply", "dead"),
        ("update", "dead"),
    ]
    assert rows[0].last_error == "channel_not_found"
    assert fake.messages(CHANNEL) == []
    assert setup.request(request.number).slack_ts is None
    # The next request is not held back by the dead one.
    setup.create(phone="06 11 11 11 11")
    setup.drain()
    assert len(fake.messages(CHANNEL)) == 1


def test_what_reaches_slack_has_fallback_text_and_fits_block_kit(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h", alert_channel=ALERTS)
    request = setup.create(name="N" * 100, email=EMAIL, method="sms_and_email", reference="R" * 100)
    setup.ops.pause(setup.ws, [request.number], BOB)
    setup.ops.cancel(setup.ws, [request.number], BOB)
    setup.drain()
    calls = fake.calls_to("chat.postMessage") + fake.calls_to("chat.update")
    assert len(calls) >= 4
    for call in calls:
        assert call["text"]
        blocks = call.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        assert len(blocks) <= MAX_BLOCKS
        for text in _texts(blocks):
            assert len(text) <= MAX_TEXT
    for message in fake.messages(CHANNEL) + fake.messages(ALERTS):
        assert message["has_fallback_text"]
        assert all(reply["has_fallback_text"] for reply in message["replies"])
    assert PHONE not in all_text(fake) and EMAIL not in all_text(fake)


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") in ("mrkdwn", "plain_text") else []
        return found + [t for v in node.values() for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


# --- workers and clients --------------------------------------------------------------------


def test_two_workers_post_each_row_once(db: Database, clock: FrozenClock, fake: FakeSlack) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    other = OutboxSender(db, setup.client_for, clock)
    request = setup.create()
    setup.ops.pause(setup.ws, [request.number], BOB)
    for _ in range(5):
        setup.outbox.run_once()
        other.run_once()
        clock.advance(SECOND)
    assert not setup.pending()
    assert len(fake.calls_to("chat.postMessage")) == 2  # the card and one reply
    assert len(fake.calls_to("chat.update")) == 1


def test_rows_wait_while_a_workspace_has_no_client(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake)
    clients: dict[int, WebClient] = {}
    outbox = OutboxSender(db, clients.get, clock)
    setup.create()
    assert outbox.run_once() == 0
    (row,) = setup.pending()
    assert row.attempts == 1 and row.last_error
    clients[setup.ws] = setup.client
    clock.advance(timedelta(seconds=backoff_seconds(1)))
    assert outbox.run_once() == 1
    assert len(fake.messages(CHANNEL)) == 1


def test_workspace_clients_use_the_installed_token_else_the_default(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake)
    assert WorkspaceClients(db, base_url=fake.api_url)(setup.ws) is None
    clients = WorkspaceClients(db, base_url=fake.api_url, default_token="xoxb-default")
    default = clients(setup.ws)
    assert default is not None and default.token == "xoxb-default"
    assert default.retry_handlers == []  # the job retries; the client must not resend
    assert default.base_url == fake.api_url
    with db.write() as session:
        workspace = session.get(Workspace, setup.ws)
        assert workspace is not None
        workspace.bot_token = "xoxb-installed"
        session.add(workspace)
    installed = clients(setup.ws)
    assert installed is not None and installed.token == "xoxb-installed"
    assert clients(setup.ws) is installed


def test_deleted_request_card_loses_its_content(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    request = setup.create(reference="INV-77")
    setup.drain()
    setup.ops.delete(setup.ws, request.number, BOB)
    setup.drain()
    root_ts = setup.request(request.number).slack_ts
    assert root_ts
    card = fake.message(CHANNEL, root_ts)
    assert action_ids(card) == []
    shown = json.dumps([card["text"], card["blocks"]])
    assert "Jane Doe" not in shown and "INV-77" not in shown
    assert "Deleted request" in json.dumps(card["blocks"])


def test_deleting_erases_the_replies_and_alerts_already_in_slack(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    from bot.usecases.feedback import Feedback

    setup = Setup(db, clock, fake, delay="1h", alert_channel="C0ALERTS")
    request = setup.create()
    setup.clock.advance(timedelta(hours=1))
    setup.engine.dispatcher.run_until_idle()  # a text back belongs to a message that went
    setup.drain()
    # The customer writes back (a thread reply quoting them) and then opts out (an alert).
    Feedback(setup.ops).inbound(sid="SM1", from_="+33610203040", to="+1500", body="Who is this?")
    Feedback(setup.ops).inbound(sid="SM2", from_="+33610203040", to="+1500", body="STOP")
    setup.drain()
    root_ts = setup.request(request.number).slack_ts
    assert root_ts
    before = json.dumps([fake.thread(CHANNEL, root_ts), fake.messages("C0ALERTS")])
    assert "Who is this?" in before and "Jane" in before

    setup.ops.delete(setup.ws, request.number, BOB)
    setup.drain()
    thread = fake.thread(CHANNEL, root_ts)
    alerts = fake.messages("C0ALERTS")
    shown = json.dumps(
        [[m["text"], m.get("blocks")] for m in [*thread, *alerts]], ensure_ascii=False
    )
    assert "Who is this?" not in shown and "Jane" not in shown
    replies = [m for m in thread[1:] if "Deleted by" not in m["text"]]
    assert replies and all(m["text"] == ERASED_TEXT for m in replies)
    assert alerts and all(m["text"] == ERASED_TEXT for m in alerts)
    assert not setup.pending()
