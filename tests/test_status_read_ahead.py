"""A batch's request statuses read ahead in one query (journal_sql.statuses_read_ahead): each
refresh then gives what a query of its own would, through flushes, new and deleted messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from bot.clock import FrozenClock
from bot.delivery.base import Outcome, SendResult
from bot.domain.status import Status, request_status
from bot.usecases.dispatcher import Claim
from bot.usecases.inputs import RequestCreate
from bot.usecases.journal_sql import refresh_status, statuses_read_ahead
from bot.usecases.recording import Finished
from store.db import Database
from store.models import Message, ReviewRequest
from tests.helpers import ALICE, Engine


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    # A reminder follows each send: its query flushes the batch between two records.
    return Engine(db, clock, region="FR", cooldown_days=0, reminders=1)


@pytest.fixture
def status_reads(db: Database) -> Iterator[list[str]]:
    """The message-status reads the database is sent: "batch" (read ahead) or "one"."""
    reads: list[str] = []

    def seen(_c: object, _cur: object, statement: str, *_rest: object) -> None:
        if re.match(r"SELECT message\.request_id, message\.id, message\.status", statement):
            reads.append("batch")
        elif re.match(r"SELECT message\.id, message\.status\s", statement):
            reads.append("one")

    event.listen(db.engine, "before_cursor_execute", seen)
    yield reads
    event.remove(db.engine, "before_cursor_execute", seen)


def _sending(engine: Engine, count: int) -> list[Claim]:
    for i in range(count):
        phone = f"+3361555{7000 + i:04d}"
        engine.ops.create(engine.ws, RequestCreate(name=f"C{i}", phone=phone, method="sms"), ALICE)
    claims = engine.dispatcher.claim_due()
    assert all(engine.dispatcher.start_all(claims))
    return claims


def _truth(db: Database) -> dict[int, str]:
    """Each request's status as its stored messages make it."""
    with db.read() as session:
        requests = session.exec(select(ReviewRequest)).all()
        messages = session.exec(select(Message)).all()
    return {
        r.id or 0: request_status(Status(m.status) for m in messages if m.request_id == r.id).value
        for r in requests
    }


def test_a_batch_of_records_reads_its_statuses_once_and_each_request_gets_its_own(
    engine: Engine, status_reads: list[str]
) -> None:
    claims = _sending(engine, 5)
    status_reads.clear()
    finished = [
        Finished(c, SendResult(Outcome.SENT, "twilio", provider_id=f"SM{c.message_id:032d}"))
        for c in claims[:4]
    ] + [Finished(claims[4], SendResult(Outcome.FAILED, "twilio", reason="refused"))]
    recorded = engine.dispatcher.record_results(finished)
    assert [r.status if r else None for r in recorded] == ["sent"] * 4 + ["failed"]
    assert status_reads == ["batch"]
    with engine.db.read() as session:
        stored = {r.id or 0: r.status for r in session.exec(select(ReviewRequest)).all()}
        reminders = session.exec(select(Message).where(Message.kind == "reminder")).all()
    assert len(reminders) == 4  # each sent one queued its reminder, flushed mid-batch
    assert stored == _truth(engine.db)
    assert sorted(stored.values()) == ["failed"] + ["sent"] * 4


def _one_request(engine: Engine) -> ReviewRequest:
    engine.ops.create(
        engine.ws,
        RequestCreate(
            name="Ann", phone="+33615550001", email="ann@example.com", method="sms_and_email"
        ),
        ALICE,
    )
    with engine.db.read() as session:
        return session.exec(select(ReviewRequest)).one()


def _refreshed(session: Session, request: ReviewRequest, clock: FrozenClock) -> str:
    refresh_status(session, request, clock.now())
    return request.status


def test_the_read_ahead_follows_flushes_new_and_deleted_messages(
    engine: Engine, clock: FrozenClock, status_reads: list[str]
) -> None:
    request = _one_request(engine)
    with engine.db.write() as session:
        request = session.get(ReviewRequest, request.id)
        assert request is not None
        messages = session.exec(select(Message).where(Message.request_id == request.id)).all()
        sms, email = sorted(messages, key=lambda m: m.channel != "sms")
        with statuses_read_ahead(session, [request.id or 0]):
            sms.status = Status.FAILED.value  # pending: seen through the session
            assert _refreshed(session, request, clock) == "queued"  # the email still waits
            session.flush()  # stored now, its change forgotten by the session: followed
            email.status = Status.FAILED.value
            assert _refreshed(session, request, clock) == "failed"
            session.flush()
            extra = engine.ops.journal.add_message(
                session, request, "sms", "reminder", clock.now(), clock.now()
            )
            extra.status = Status.CLICKED.value
            session.flush()  # a new message, stored
            assert _refreshed(session, request, clock) == "clicked"
            session.delete(extra)
            session.flush()
            assert _refreshed(session, request, clock) == "failed"
        assert status_reads == ["batch"]
        assert _refreshed(session, request, clock) == "failed"  # outside: its own query
        assert status_reads == ["batch", "one"]
