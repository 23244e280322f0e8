"""`/reviews stats`: totals, per channel, per sender and SMS cost over data the test creates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.domain.errors import InvalidInput
from bot.domain.templating import sms_segments
from bot.usecases.inputs import RequestCreate
from bot.usecases.periods import parse_stats_period
from store.db import Database
from store.models import Message
from store.stats import PeriodStats, Tally, period_stats
from tests.export_rows import add_message, add_requests
from tests.helpers import ALICE, Engine
from tests.slack_harness import ADMIN, SlackHarness, slack_fixture, text_of  # noqa: F401

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
GSM_160 = "a" * 160  # one segment
GSM_161 = "b" * 161  # two segments of 153
UCS2_71 = "é" * 60 + "😀" * 5 + "x"  # 71 UTF-16 units: two segments of 67


def seed(db: Database, ws: int) -> None:
    """Five requests in the period, one before it, one deleted; SMS bodies of known segments."""
    hour = timedelta(hours=1)
    sent = NOW - 20 * hour
    a, b, c, d, e = add_requests(
        db,
        ws,
        [
            {"status": "clicked", "sent_at": sent, "delivered_at": sent, "clicked_at": sent},
            {"status": "failed", "last_error": "21211 invalid number"},
            {
                "channel": "email", "method": "email", "created_by": "U0BOB",
                "created_by_name": "bob", "status": "opened", "sent_at": sent,
                "delivered_at": sent, "opened_at": sent,
            },
            {
                "channel": "whatsapp", "method": "whatsapp", "created_by": "U0BOB",
                "created_by_name": "bob", "status": "clicked", "sent_at": sent,
                "delivered_at": sent, "opened_at": sent, "clicked_at": sent,
            },
            {"created_by": "cli:ops", "created_by_name": "ops", "status": "sent", "sent_at": sent},
        ],
        at=NOW - 24 * hour,
    )  # fmt: skip
    (old,) = add_requests(
        db, ws, [{"status": "sent", "sent_at": NOW - 40 * 24 * hour}], at=NOW - 40 * 24 * hour
    )
    (deleted,) = add_requests(
        db, ws, [{"status": "sent", "sent_at": sent, "deleted_at": NOW}], at=NOW - hour
    )
    add_message(db, ws, a, at=sent, body=GSM_160, sent_at=sent)
    add_message(db, ws, a, at=sent, kind="reminder", body=GSM_161, sent_at=sent)
    add_message(db, ws, a, at=NOW, kind="reminder", body=GSM_160, status="queued")
    add_message(db, ws, b, at=sent, body=GSM_160, status="failed")  # refused: never sent
    add_message(db, ws, c, at=sent, channel="email", body=GSM_161 * 3, sent_at=sent)
    add_message(db, ws, d, at=sent, channel="whatsapp", body=GSM_161, sent_at=sent)
    add_message(db, ws, e, at=sent, body=UCS2_71, sent_at=sent)
    add_message(db, ws, old, at=sent, body=GSM_160, sent_at=NOW - 40 * 24 * hour)
    add_message(db, ws, deleted, at=sent, body=GSM_160, sent_at=sent)


def compute(db: Database, ws: int, start: datetime, end: datetime | None) -> PeriodStats:
    with db.read() as session:
        return period_stats(
            session, ws, start=start, end=end, segments=lambda b: sms_segments(b).segments
        )


def test_totals_per_channel_per_sender_and_sms_segments(db: Database, clock: FrozenClock) -> None:
    from tests.helpers import Engine

    engine = Engine(db, clock)
    seed(db, engine.ws)
    stats = compute(db, engine.ws, NOW - timedelta(days=7), None)
    assert stats.overall == Tally(sent=4, delivered=3, opened=2, clicked=2, failed=1)
    assert stats.overall.click_rate == 0.5
    assert stats.by_channel == {
        "email": Tally(sent=1, delivered=1, opened=1, clicked=0, failed=0),
        "sms": Tally(sent=2, delivered=1, opened=0, clicked=1, failed=1),
        "whatsapp": Tally(sent=1, delivered=1, opened=1, clicked=1, failed=0),
    }
    assert [(s.user_id, s.name, s.tally) for s in stats.by_sender] == [
        ("U0BOB", "bob", Tally(sent=2, delivered=2, opened=2, clicked=1, failed=0)),
        ("U0ALICE", "alice", Tally(sent=1, delivered=1, opened=0, clicked=1, failed=1)),
        ("cli:ops", "ops", Tally(sent=1, delivered=0, opened=0, clicked=0, failed=0)),
    ]
    assert (stats.sms_sent, stats.sms_segments) == (3, 5)  # 1 + 2 + 2
    assert stats.sms_cost(Decimal("0.05")) == Decimal("0.25")
    # A period that ends before the requests were created holds nothing of them.
    early = compute(db, engine.ws, NOW - timedelta(days=7), NOW - timedelta(days=2))
    assert early.overall == Tally() and early.sms_segments == 0
    # The 40-day-old request joins in a 60-day period.
    wide = compute(db, engine.ws, NOW - timedelta(days=60), None)
    assert wide.overall.sent == 5 and wide.sms_segments == 6


def test_a_workspace_sees_only_its_own_numbers(db: Database, clock: FrozenClock) -> None:
    from tests.helpers import Engine

    engine = Engine(db, clock)
    other = engine.ops.ensure_workspace("T0OTHER", "Other")
    assert other.id is not None
    seed(db, other.id)
    stats = compute(db, engine.ws, NOW - timedelta(days=7), None)
    assert stats.overall == Tally() and stats.by_sender == [] and stats.sms_sent == 0


# --- the period people type --------------------------------------------------------------------


def test_periods_read_in_the_workspace_timezone() -> None:
    week = parse_stats_period("", now=NOW, timezone="Europe/Paris")
    assert (week.start, week.end, week.label) == (NOW - timedelta(days=7), None, "Last 7 days")
    month = parse_stats_period("30d", now=NOW, timezone="Europe/Paris")
    assert month.start == NOW - timedelta(days=30) and month.label == "Last 30 days"
    span = parse_stats_period("from:2026-11-01 to:2026-11-15", now=NOW, timezone="Europe/Paris")
    assert span.start == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # midnight in Paris
    assert span.end == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)  # to: includes its day
    since = parse_stats_period("from:2026-11-20", now=NOW, timezone="UTC")
    assert since.end is None and since.label == "Since 2026-11-20"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("7x", "I don't understand '7x'"),
        ("0d", "between 1 and"),
        ("from:2026-11-30 to:2026-11-01", "to: must not come before from:"),
        ("from:2026-13-01", "'2026-13-01' is not a date for from:"),
        ("to:2026-11-01", "from:"),
        ("from:2026-12-25", "in the future"),
        ("from:2026-11-01 from:2026-11-02", "given twice"),
        ("30d from:2026-11-01", "I don't understand '30d'"),
        ("from:0900-01-01", "at most 3660 days"),  # its period before runs off the calendar
        ("from:2016-01-01 to:2026-11-01", "at most 3660 days"),
    ],
)
def test_a_wrong_period_is_refused_precisely(text: str, words: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_stats_period(text, now=NOW, timezone="UTC")
    assert words in raised.value.message


# --- through Slack ---------------------------------------------------------------------------


def ask(slack: SlackHarness, text: str) -> str:
    response = slack.post_command(text, user=ADMIN)
    assert response.status_code == 200
    answer = slack.answer()
    assert answer["response_type"] == "ephemeral"
    return text_of(answer)


def test_stats_in_slack_per_channel_per_sender_and_cost(slack: SlackHarness) -> None:
    slack.set_policy(sms_price="0.05", currency="SEK")
    seed(slack.app.db, slack.ws)
    text = ask(slack, "stats from:2026-11-16 to:2026-11-23")
    assert (
        "*2026-11-16 to 2026-11-23*: sent 4 · delivered 3 · opened 2 · clicked 2 · failed 1 · "
        "click rate 50%"
    ) in text
    assert "from 2026-11-16 00:00 to 2026-11-23 23:59 (Europe/Paris)" in text
    assert "*SMS*: sent 2 · delivered 1 · opened 0 · clicked 1 · failed 1 · click rate 50%" in text
    assert "*WhatsApp*: sent 1" in text and "*Email*: sent 1 · delivered 1 · opened 1" in text
    assert "*<@U0BOB>*: sent 2 · delivered 2 · opened 2 · clicked 1" in text
    assert "*<@U0ALICE>*: sent 1" in text and "*ops*: sent 1" in text
    assert "*SMS cost estimate*: 0.25 SEK (5 segments in 3 SMS × 0.05 SEK)" in text


def test_stats_with_a_wrong_period_answers_with_the_error(slack: SlackHarness) -> None:
    text = ask(slack, "stats from:2026-11-30 to:2026-11-01")
    assert ":warning:" in text and "to: must not come before from:" in text


def test_segments_are_stored_when_sent_and_summed_from_the_store(
    db: Database, clock: FrozenClock
) -> None:
    clock.set(NOW - timedelta(hours=2))
    engine = Engine(
        db, clock, region="US", cooldown_days=0, sms_template="😀 Hi {{ name }}, tell us how we did"
    )
    engine.ops.create(engine.ws, RequestCreate(name="Ann", phone="+33 6 15 55 0101"), ALICE)
    assert engine.dispatcher.run_until_idle() == 1
    with db.read() as session:
        (sent,) = session.exec(select(Message).where(Message.status == "sent")).all()
    # Counted from the rendered body when it went to `sending` (UCS-2 with the link: 2+).
    assert sent.segments == sms_segments(sent.body or "").segments >= 2
    # A row sent before the count was stored is counted from its body; a stored count is
    # summed as it is (4 here, though its body alone is one segment).
    (older,) = add_requests(db, engine.ws, [{"status": "sent", "sent_at": NOW}], at=NOW)
    add_message(db, engine.ws, older, at=NOW, body=GSM_161, sent_at=NOW)
    add_message(
        db, engine.ws, older, at=NOW, kind="reminder", body=GSM_160, sent_at=NOW, segments=4
    )
    stats = compute(db, engine.ws, NOW - timedelta(days=1), None)
    assert (stats.sms_sent, stats.sms_segments) == (3, sent.segments + 2 + 4)
