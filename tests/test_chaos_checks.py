"""The fault run's checks (bench/chaos_checks.py) see what they must: they can fail.

A clean state is made by the real use-cases, dispatcher and Slack outbox against the fake
Twilio and the fake Slack; the checks find nothing in it. Then one fault is written into it
the way a broken product would leave it (a second send, a message left in flight, an
`unknown` without its reason, a reply or a card posted twice) and the checks must name it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from bench.chaos_checks import Findings, check_all
from bot.clock import FrozenClock
from bot.delivery.twilio import TwilioSender
from bot.usecases.inputs import RequestCreate
from handlers.outbox_writer import SlackNotifier
from scheduler.outbox import OutboxSender
from scheduler.outbox_recovery import EVENT_TYPE
from scheduler.slack_clients import slack_client
from store.db import Database
from tests.fakes.slack_api import FakeSlack
from tests.fakes.twilio_api import FakeTwilio
from tests.helpers import ALICE, Engine

SID = "AC" + "c" * 32
TOKEN = "chaos-checks-token"
FROM = "+15005550006"
CHANNEL = "C0CHAOS"


class InProcess:
    """A fake served in this process, asked the way bench/speedkit.py asks its child fakes."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake

    def call(self, name: str, /, *args: Any) -> Any:
        attr = getattr(self.fake, name)
        return attr(*args) if callable(attr) else attr


class Clean:
    """Three SMS requests sent through the fake Twilio, their threads posted to the fake Slack."""

    def __init__(self, url: str, twilio: FakeTwilio, slack: FakeSlack, clock: FrozenClock):
        self.url, self.twilio, self.slack = url, twilio, slack
        db = Database(url)
        sender = TwilioSender(SID, TOKEN, api_url=twilio.url, sms_from=FROM)
        engine = Engine(db, clock, notifier=SlackNotifier(clock), senders={"sms": sender})
        for i in range(3):
            data = RequestCreate(name=f"C{i}", phone=f"06 10 20 30 4{i}", origin_channel=CHANNEL)
            engine.ops.create(engine.ws, data, ALICE)
        engine.dispatcher.run_until_idle()
        self.client = slack_client(slack.bot_token, base_url=slack.api_url)
        outbox = OutboxSender(db, lambda _: self.client, clock)
        for _ in range(30):
            outbox.run_once()
            clock.advance(timedelta(seconds=1))
        db.dispose()

    def check(self) -> Findings:
        return check_all(self.url, InProcess(self.twilio), InProcess(self.slack), [CHANNEL])

    def sql(self, statement: str) -> list[Any]:
        engine = create_engine(self.url)
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            rows = list(result.all()) if result.returns_rows else []
        engine.dispose()
        return rows


@pytest.fixture
def clean(database_url: str, clock: FrozenClock) -> Iterator[Clean]:
    with FakeTwilio(SID, TOKEN) as twilio, FakeSlack() as slack:
        yield Clean(database_url, twilio, slack, clock)


def test_a_clean_run_passes(clean: Clean) -> None:
    found = clean.check()
    assert found.problems == []
    assert found.figures["statuses"] == {"sent": 3}
    assert found.figures["duplicates"] == 0
    assert found.figures["provider_creates"] == 3


def _send_again(clean: Clean) -> None:
    body = clean.twilio.messages[0]["Body"]
    answer = requests.post(
        f"{clean.twilio.url}/2010-04-01/Accounts/{SID}/Messages.json",
        data={"To": "+33610203040", "From": FROM, "Body": body},
        auth=(SID, TOKEN),
        timeout=10,
    )
    assert answer.status_code == 201


def _leave_in_flight(clean: Clean) -> None:
    clean.sql("UPDATE message SET status = 'sending' WHERE id = (SELECT min(id) FROM message)")


def _unknown_unexplained(clean: Clean) -> None:
    clean.sql("UPDATE message SET status = 'unknown' WHERE id = (SELECT min(id) FROM message)")


def _post_again(kind: str) -> Callable[[Clean], None]:
    def post_twice(clean: Clean) -> None:
        row_id, request_id = clean.sql(
            f"SELECT id, request_id FROM slack_outbox WHERE kind = '{kind}' ORDER BY id LIMIT 1"  # noqa: S608
        )[0]
        (ts,) = clean.sql(f"SELECT slack_ts FROM review_request WHERE id = {request_id}")[0]  # noqa: S608
        clean.client.chat_postMessage(
            channel=CHANNEL,
            text="posted again",
            thread_ts=ts if kind == "reply" else None,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"outbox_id": row_id}},
        )

    return post_twice


def _reply_out_of_order(clean: Clean) -> None:
    """A second reply, then the first one again: not a repeat in place but out of order."""
    (ts,) = clean.sql("SELECT slack_ts FROM review_request ORDER BY id LIMIT 1")[0]
    (first,) = clean.sql(
        "SELECT min(o.id) FROM slack_outbox o JOIN review_request r ON r.id = o.request_id "
        f"WHERE o.kind = 'reply' AND r.slack_ts = '{ts}'"  # noqa: S608
    )[0]
    for row_id in (first + 1000, first):
        clean.client.chat_postMessage(
            channel=CHANNEL,
            text="out of order",
            thread_ts=ts,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"outbox_id": row_id}},
        )


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (_send_again, "reached the provider 2 times"),
        (_leave_in_flight, "is still sending after the drain"),
        (_unknown_unexplained, "is unknown without its reason"),
        (_post_again("reply"), "thread replies"),
        (_post_again("root"), "its card was posted 2 times"),
        (_reply_out_of_order, "thread replies"),
    ],
    ids=[
        "duplicate send",
        "left in flight",
        "unknown unexplained",
        "reply twice",
        "card twice",
        "reply out of order",
    ],  # fmt: skip
)
def test_each_fault_is_named(clean: Clean, fault: Callable[[Clean], None], said: str) -> None:
    assert clean.check().problems == []
    fault(clean)
    found = clean.check()
    assert any(said in p for p in found.problems), found.problems
