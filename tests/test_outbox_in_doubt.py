"""Slack stored a post but answered 5xx: the outbox finds that post and does not post it again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.clock import FrozenClock
from store.db import Database
from tests.fakes.slack_api import FakeSlack
from tests.test_outbox import BOB, CHANNEL, Setup


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def test_a_card_stored_then_answered_500_is_posted_once_and_its_thread_follows(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    request = setup.create()
    fake.fail_next("chat.postMessage", status=500, after_storing=True)
    setup.drain()
    setup.ops.pause(setup.ws, [request.number], BOB)
    setup.drain()

    (card,) = fake.messages(CHANNEL)
    assert setup.request(request.number).slack_ts == card["ts"]
    assert [m["text"] for m in card["replies"]] == ["Paused by <@U0BOB>"]
    assert "paused" in fake.message(CHANNEL, card["ts"])["text"]


def test_a_reply_stored_then_answered_500_is_posted_once(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    request = setup.create()
    setup.drain()
    fake.fail_next("chat.postMessage", status=502, after_storing=True)
    setup.ops.pause(setup.ws, [request.number], BOB)
    setup.drain()
    setup.ops.resume(setup.ws, [request.number], BOB)
    setup.drain()

    (card,) = fake.messages(CHANNEL)
    assert [m["text"] for m in card["replies"]] == ["Paused by <@U0BOB>", "Resumed by <@U0BOB>"]


def test_every_post_carries_its_outbox_row_in_metadata(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    setup.create()
    setup.drain()
    (row,) = setup.rows()
    (call,) = fake.calls_to("chat.postMessage")
    assert call["metadata"] == {
        "event_type": "reviewops_post",
        "event_payload": {"outbox_id": row.id},
    }


def test_the_happy_path_never_looks_for_an_earlier_post(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    request = setup.create()
    setup.drain()
    setup.ops.pause(setup.ws, [request.number], BOB)
    setup.drain()

    (card,) = fake.messages(CHANNEL)
    assert [m["text"] for m in card["replies"]] == ["Paused by <@U0BOB>"]
    assert fake.calls_to("conversations.history") == []
    assert fake.calls_to("conversations.replies") == []


def test_a_post_answered_429_stored_nothing_so_it_is_not_looked_for(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    setup.create()
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    setup.drain()

    assert len(fake.messages(CHANNEL)) == 1
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert fake.calls_to("conversations.history") == []


def test_a_post_answered_500_is_looked_for_once_before_posting_again(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    setup = Setup(db, clock, fake, delay="1h")
    setup.create()
    fake.fail_next("chat.postMessage", status=500)  # Slack stored nothing
    setup.drain()

    assert len(fake.messages(CHANNEL)) == 1
    assert len(fake.calls_to("conversations.history")) == 1
