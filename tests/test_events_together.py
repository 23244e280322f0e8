"""A batch of records inserts its events in one statement (journal_sql.events_together), in
the order they were recorded, and nothing when the batch is undone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.delivery.base import Outcome, SendResult
from bot.usecases.dispatcher import Claim
from bot.usecases.recording import Finished
from store.db import Database
from store.models import Event, Message, ReviewRequest
from tests.helpers import Engine
from tests.test_status_read_ahead import _sending


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    return Engine(db, clock, region="FR", cooldown_days=0, reminders=1)


@pytest.fixture
def event_inserts(db: Database) -> Iterator[list[str]]:
    """Each INSERT INTO event the database is sent (an executemany is one)."""
    inserts: list[str] = []

    def seen(_c: object, _cur: object, statement: str, *_rest: object) -> None:
        if re.match(r"INSERT INTO event\b", statement):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    yield inserts
    event.remove(db.engine, "before_cursor_execute", seen)


def _sent(claim: Claim) -> Finished:
    return Finished(
        claim, SendResult(Outcome.SENT, "twilio", provider_id=f"SM{claim.message_id:032d}")
    )


def test_a_batch_inserts_its_events_in_one_statement_in_order(
    engine: Engine, event_inserts: list[str]
) -> None:
    claims = _sending(engine, 4)
    event_inserts.clear()
    failed = Finished(
        claims[3], SendResult(Outcome.FAILED, "twilio", reason="refused", error_code="30003")
    )
    recorded = engine.dispatcher.record_results([*map(_sent, claims[:3]), failed])

    assert [r.status if r else None for r in recorded] == ["sent"] * 3 + ["failed"]
    assert len(event_inserts) == 1
    with engine.db.read() as session:
        numbers = {r.id: r.number for r in session.exec(select(ReviewRequest)).all()}
        events = session.exec(
            select(Event).where(col(Event.kind).in_(["sent", "failed"])).order_by(col(Event.id))
        ).all()
    assert [(numbers[e.request_id], e.kind) for e in events] == [
        (1, "sent"), (2, "sent"), (3, "sent"), (4, "failed"),
    ]  # fmt: skip
    sent = events[0]
    assert sent.message_id == claims[0].message_id and sent.actor == "twilio"
    assert sent.detail["provider_id"] == f"SM{claims[0].message_id:032d}"
    assert events[3].detail == {"actor_name": "twilio", "code": "30003", "reason": "refused"}


def test_an_undone_batch_writes_none_of_its_events_and_each_alone_writes_its_own(
    engine: Engine, db: Database
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("the event the database refuses is refused by a SQLite trigger")
    claims = _sending(engine, 3)
    with db.read() as session:
        second = session.exec(select(ReviewRequest).where(ReviewRequest.number == 2)).one()
    with db.write() as session:  # the database refuses the second request's `sent` event
        session.connection().exec_driver_sql(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON event "
            f"WHEN NEW.request_id = {second.id} AND NEW.kind = 'sent' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )

    recorded = engine.dispatcher.record_results([_sent(c) for c in claims])

    # The batch is undone, then each recorded alone: only the refused one is lost (it stays
    # `sending`, for the reaper to make `unknown`), and no event is written twice.
    assert [r.status if r else None for r in recorded] == ["sent", None, "sent"]
    with db.read() as session:
        events = session.exec(
            select(Event).where(Event.kind == "sent").order_by(col(Event.id))
        ).all()
        stuck = session.get(Message, claims[1].message_id)
    assert [e.message_id for e in events] == [claims[0].message_id, claims[2].message_id]
    assert stuck is not None and stuck.status == "sending"
