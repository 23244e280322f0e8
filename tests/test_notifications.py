"""The Slack notifier: Block Kit builders as data, and the outbox rows each change writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.delivery.base import Outcome, OutgoingMessage, SendResult
from bot.domain.import_file import read_csv
from bot.domain.policy import WorkspacePolicy
from bot.domain.status import Status
from bot.usecases.actors import Actor
from bot.usecases.import_plan import ImportOptions
from bot.usecases.inputs import RequestCreate
from handlers.blocks.card import (
    ACTION_CANCEL,
    ACTION_PAUSE,
    ACTION_RESUME,
    ACTION_SEND_NOW,
    request_card_blocks,
    request_card_text,
)
from handlers.blocks.limits import MAX_MESSAGE_BLOCKS as MAX_BLOCKS
from handlers.blocks.limits import MAX_TEXT
from handlers.outbox_writer import SlackNotifier
from handlers.text import redact, slack_date
from store.db import Database
from store.models import ReviewRequest, SlackOutbox
from tests.helpers import ALICE, Engine

PHONE = "+33610203040"
EMAIL = "jane.doe@example.com"
BOB = Actor("U0BOB", "bob")


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


def card_request(**overrides: Any) -> ReviewRequest:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": 7,
        "workspace_id": 1,
        "number": 42,
        "customer_name": "Jane Doe",
        "phone": PHONE,
        "email": EMAIL,
        "method": "sms_and_email",
        "channel": "sms+email",
        "status": "queued",
        "created_by": "U0ALICE",
        "created_by_name": "alice",
        "created_at": now,
        "updated_at": now,
        "scheduled_at": now + timedelta(hours=1),
        "reference": "INV-1001",
    }
    values.update(overrides)
    return ReviewRequest(**values)


def dump(blocks: list[Any]) -> str:
    return json.dumps([b.to_dict() for b in blocks])


def action_ids(blocks: list[Any]) -> list[str]:
    return [
        element["action_id"]
        for block in (b.to_dict() for b in blocks)
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def texts(blocks: list[Any]) -> list[str]:
    """Every text object's text in a list of blocks."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk([b.to_dict() for b in blocks])
    return found


# --- builders ------------------------------------------------------------------------------


def test_card_shows_number_name_masked_contact_sender_time_and_status() -> None:
    request = card_request()
    blocks = request_card_blocks(request, waiting={Status.QUEUED})
    body = dump(blocks)
    assert "#42" in body
    assert "Jane Doe" in body
    assert "<@U0ALICE>" in body
    assert "SMS + Email" in body
    assert "INV-1001" in body
    assert ":hourglass_flowing_sand: queued" in body
    due = int(request.scheduled_at.timestamp())  # type: ignore[union-attr]
    assert f"<!date^{due}^{{date_short_pretty}} {{time}}|2026-11-23 11:00 UTC>" in body
    assert PHONE not in body and "0610203040" not in body
    assert EMAIL not in body
    assert "78" in body or "40" in body  # the mask keeps some digits to recognise the number


def test_card_buttons_follow_what_is_still_waiting() -> None:
    request = card_request()
    queued = request_card_blocks(request, waiting={Status.QUEUED})
    assert action_ids(queued) == [ACTION_PAUSE, ACTION_SEND_NOW, ACTION_CANCEL]
    paused = request_card_blocks(card_request(status="paused"), waiting={Status.PAUSED})
    assert action_ids(paused) == [ACTION_RESUME, ACTION_SEND_NOW, ACTION_CANCEL]
    values = {
        e["value"]
        for b in (x.to_dict() for x in queued)
        if b["type"] == "actions"
        for e in b["elements"]
    }
    assert values == {"42"}
    sent = request_card_blocks(card_request(status="sent", sent_at=request.created_at), waiting=())
    assert action_ids(sent) == []
    assert "*Sent*" in dump(sent)


def test_card_fallback_text_is_masked_and_says_status() -> None:
    text = request_card_text(card_request())
    assert text.startswith("#42 Jane Doe (")
    assert "queued" in text
    assert PHONE not in text and EMAIL not in text


def test_card_respects_block_kit_limits_and_escapes_markup() -> None:
    request = card_request(customer_name="<!channel> " + "x" * 5000, reference="r" * 5000)
    blocks = request_card_blocks(request, waiting={Status.QUEUED})
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(t) <= MAX_TEXT for t in texts(blocks))
    assert "<!channel>" not in dump(blocks)
    assert len(request_card_text(request)) <= MAX_TEXT


def test_slack_date_has_a_readable_fallback() -> None:
    when = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
    assert slack_date(when) == (
        f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-23 09:05 UTC>"
    )


def test_redact_masks_numbers_and_addresses_providers_quote() -> None:
    request = card_request()
    text = redact(
        f"Invalid 'To' {PHONE}; also +1 415 555 0100 and Someone@Example.org, {EMAIL.upper()}",
        request,
    )
    assert PHONE not in text
    assert "415 555 0100" not in text and "4155550100" not in text
    assert "Someone@Example.org" not in text
    assert EMAIL.upper() not in text
    assert "Invalid 'To'" in text


# --- the notifier's rows --------------------------------------------------------------------


def outbox(db: Database) -> list[SlackOutbox]:
    with db.read() as session:
        return list(session.exec(select(SlackOutbox).order_by(col(SlackOutbox.id))).all())


def engine_with(db: Database, clock: FrozenClock, **policy: object) -> Engine:
    return Engine(db, clock, notifier=SlackNotifier(clock), **policy)


def test_created_writes_one_root_row_in_the_origin_channel(
    db: Database, clock: FrozenClock
) -> None:
    engine = engine_with(db, clock)
    engine.ops.create(
        engine.ws, RequestCreate(name="Jane", phone="0610203040", origin_channel="C0ORIGIN"), ALICE
    )
    rows = outbox(db)
    assert [(r.kind, r.channel, r.status) for r in rows] == [("root", "C0ORIGIN", "pending")]
    assert rows[0].next_attempt_at == clock.now()
    payload = rows[0].payload
    assert payload["text"] and payload["blocks"]
    assert "0610203040" not in json.dumps(payload) and PHONE not in json.dumps(payload)


def test_notify_channel_wins_and_no_channel_means_no_thread(
    db: Database, clock: FrozenClock
) -> None:
    engine = engine_with(db, clock)
    engine.ops.create(engine.ws, RequestCreate(name="Cli", phone="0610203040"), ALICE)
    assert outbox(db) == []
    set_policy(engine, notify_channel="C0NOTIFY")
    engine.ops.create(
        engine.ws,
        RequestCreate(name="Jane", phone="0611111111", origin_channel="C0ORIGIN"),
        ALICE,
    )
    assert [(r.kind, r.channel) for r in outbox(db)] == [("root", "C0NOTIFY")]


def test_later_changes_write_a_reply_and_a_card_update(db: Database, clock: FrozenClock) -> None:
    engine = engine_with(db, clock, delay="1h")
    request = engine.ops.create(
        engine.ws, RequestCreate(name="Jane", phone="0610203040", origin_channel="C0ORIGIN"), ALICE
    )
    engine.ops.pause(engine.ws, [request.number], BOB)
    engine.ops.cancel(engine.ws, [request.number], BOB)
    rows = outbox(db)
    assert [(r.kind, r.channel) for r in rows] == [
        ("root", "C0ORIGIN"),
        ("reply", "C0ORIGIN"),
        ("update", "C0ORIGIN"),
        ("reply", "C0ORIGIN"),
        ("update", "C0ORIGIN"),
    ]
    assert rows[1].payload == {"text": "Paused by <@U0BOB>", "request_id": request.id}
    assert ACTION_RESUME in json.dumps(rows[2].payload["blocks"])
    assert rows[3].payload["text"] == "Canceled by <@U0BOB>"
    assert rows[4].payload["request_id"] == request.id
    assert "request_" not in json.dumps(rows[4].payload["blocks"])  # no buttons once canceled
    assert "canceled" in rows[4].payload["text"]


def test_a_request_without_a_thread_gets_one_once_a_channel_is_set(
    db: Database, clock: FrozenClock
) -> None:
    engine = engine_with(db, clock, delay="1h")
    request = engine.ops.create(engine.ws, RequestCreate(name="Cli", phone="0610203040"), ALICE)
    set_policy(engine, notify_channel="C0NOTIFY")
    engine.ops.pause(engine.ws, [request.number], BOB)
    rows = outbox(db)
    assert [(r.kind, r.channel) for r in rows] == [("root", "C0NOTIFY"), ("reply", "C0NOTIFY")]
    assert ACTION_RESUME in json.dumps(rows[0].payload["blocks"])  # drawn as it is now


def test_alert_goes_to_the_alert_channel_masked(db: Database, clock: FrozenClock) -> None:
    engine = Engine(
        db,
        clock,
        notifier=SlackNotifier(clock),
        senders={"sms": RefusingSender()},
        alert_channel="C0ALERTS",
    )
    request = engine.ops.create(
        engine.ws,
        RequestCreate(name="Jane", phone="0610203040", origin_channel="C0ORIGIN", when="now"),
        ALICE,
    )
    engine.dispatcher.run_until_idle()
    rows = outbox(db)
    kinds = [(r.kind, r.channel) for r in rows]
    assert ("alert", "C0ALERTS") in kinds
    alert = next(r for r in rows if r.kind == "alert")
    assert f"#{request.number}" in alert.payload["text"]
    assert "not a valid phone number" in alert.payload["text"]
    assert "<#C0ORIGIN>" in alert.payload["text"]
    assert alert.payload["blocks"]
    everything = json.dumps([r.payload for r in rows])
    assert PHONE not in everything and "0610203040" not in everything


def test_alert_without_alert_channel_is_broadcast_from_the_thread(
    db: Database, clock: FrozenClock
) -> None:
    engine = Engine(db, clock, notifier=SlackNotifier(clock), senders={"sms": RefusingSender()})
    engine.ops.create(
        engine.ws,
        RequestCreate(name="Jane", phone="0610203040", origin_channel="C0ORIGIN", when="now"),
        ALICE,
    )
    engine.dispatcher.run_until_idle()
    rows = outbox(db)
    broadcasts = [r for r in rows if r.payload.get("reply_broadcast")]
    assert len(broadcasts) == 1
    assert broadcasts[0].kind == "reply" and broadcasts[0].channel == "C0ORIGIN"
    assert not [r for r in rows if r.kind == "alert"]
    assert PHONE not in json.dumps([r.payload for r in rows])


def test_rows_roll_back_with_the_change(db: Database, clock: FrozenClock) -> None:
    engine = engine_with(db, clock, delay="1h")
    request = engine.ops.create(
        engine.ws, RequestCreate(name="Jane", phone="0610203040", origin_channel="C0"), ALICE
    )
    engine.ops.cancel(engine.ws, [request.number], BOB)
    before = len(outbox(db))
    result = engine.ops.pause(engine.ws, [request.number], BOB)  # refused: nothing waits
    assert result.changed == []
    assert len(outbox(db)) == before


def set_policy(engine: Engine, **values: object) -> None:
    policy = engine.ops.policy(engine.ws)
    engine.ops.update_policy(
        engine.ws, WorkspacePolicy.model_validate({**policy.model_dump(), **values}), ALICE
    )


@pytest.mark.parametrize("kind", ["paused", "resumed"])
def test_changes_never_leak_a_full_contact(db: Database, clock: FrozenClock, kind: str) -> None:
    engine = engine_with(db, clock, delay="1h")
    request = engine.ops.create(
        engine.ws,
        RequestCreate(
            name="Jane",
            phone="0610203040",
            email=EMAIL,
            method="sms_and_email",
            origin_channel="C0",
        ),
        ALICE,
    )
    engine.ops.pause(engine.ws, [request.number], BOB)
    if kind == "resumed":
        engine.ops.resume(engine.ws, [request.number], BOB)
    everything = json.dumps([r.payload for r in outbox(db)])
    assert PHONE not in everything and EMAIL not in everything


def test_an_imported_request_gets_a_card_only_when_it_needs_the_team(
    db: Database, clock: FrozenClock
) -> None:
    """A file may hold 100,000 rows: their requests are not each posted to the notify channel
    as they are created, paused or sent; one that fails gets its card and its alert."""
    engine = Engine(
        db,
        clock,
        notifier=SlackNotifier(clock),
        senders={"sms": RefusingSender()},
        region="FR",
        notify_channel="C0NOTIFY",
        alert_channel="C0ALERTS",
    )
    rows = b"name,phone\nJane,0610203040\nBob,0611111111\n"
    plan = engine.ops.imports.check(engine.ws, read_csv(rows), ImportOptions(when="now"))
    done = engine.ops.imports.confirm(engine.ws, plan, ALICE, file_name="clients.csv")
    assert done.created == 2
    engine.ops.pause(engine.ws, [2], BOB)
    assert outbox(db) == []  # created and paused: nothing posted

    engine.dispatcher.run_until_idle()  # #1 is refused by the provider: the team must know
    kinds = [(r.kind, r.channel, r.payload.get("number")) for r in outbox(db)]
    assert kinds[0][:2] == ("root", "C0NOTIFY")
    assert ("alert", "C0ALERTS", 1) in kinds
    with db.read() as session:
        first = session.exec(select(ReviewRequest).where(ReviewRequest.number == 1)).one()
    assert {r.request_id for r in outbox(db)} == {first.id}  # nothing of the paused #2
