"""A CSV import's batches checked again as they are written: cancel, stale plans, failures.

The dry run may be minutes old at confirm time. Each batch locks its import and the workspace,
reads its contacts, opt-outs and recent requests again, and skips what can't be sent any more;
a cancel stops the batches still to come; a failure partway names the import. The real
use-cases on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from bot.clock import FrozenClock
from bot.domain.import_file import read_csv
from bot.usecases import importing
from bot.usecases.actors import Actor
from bot.usecases.feedback import Feedback
from bot.usecases.import_plan import ImportOptions
from bot.usecases.importing import ImportFailed
from bot.usecases.inputs import BulkResult, RequestCreate
from store import imports as import_store
from store.db import Database
from store.integration_models import ImportBatch
from store.models import Contact, ReviewRequest
from tests.helpers import Engine

BOSS = Actor("U0ADMIN", "boss", admin=True)
ANN = b"name,phone\nAnn,0610000001\n"


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    return Engine(db, clock, region="FR", cooldown_days=30)


def big(rows: int) -> bytes:
    lines = ["name,phone"] + [
        f"C{i},06 {i // 100 % 100:02d} {i % 100:02d} 00 00" for i in range(rows)
    ]
    return "\n".join(lines).encode()


def statuses(db: Database) -> dict[int, str]:
    with db.read() as session:
        return dict(session.exec(select(ReviewRequest.number, ReviewRequest.status)).all())


def state_of(db: Database, import_id: int) -> tuple[str, int]:
    with db.read() as session:
        batch = session.get(ImportBatch, import_id)
        assert batch is not None
        return batch.state, batch.created


def test_a_cancel_while_the_batches_are_written_stops_the_ones_to_come(
    engine: Engine, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "BATCH", 10)
    plan = engine.ops.imports.check(engine.ws, read_csv(big(30)), ImportOptions())
    canceled: list[BulkResult] = []

    def cancel_after_the_first_batch(done: int, total: int) -> None:
        if not canceled:  # an admin clicks "Cancel the whole import" meanwhile
            canceled.append(engine.ops.cancel_import(engine.ws, 1, BOSS))

    done = engine.ops.imports.confirm(
        engine.ws, plan, BOSS, file_name="a.csv", on_progress=cancel_after_the_first_batch
    )
    assert done.canceled and done.created == 10
    assert sorted(canceled[0].changed) == list(range(1, 11))
    assert statuses(db) == dict.fromkeys(range(1, 11), "canceled")  # nobody left queued
    assert state_of(db, 1) == ("canceled", 10)


def test_a_customer_asked_through_the_send_form_after_the_dry_run_is_skipped(
    engine: Engine, db: Database, clock: FrozenClock
) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="Ann", phone="0610000001"), BOSS)
    clock.advance(timedelta(days=40))
    plan = engine.ops.imports.check(engine.ws, read_csv(ANN + b"Bob,0610000002\n"), ImportOptions())
    assert len(plan.ready) == 2
    engine.ops.create(engine.ws, RequestCreate(name="Ann", phone="0610000001"), BOSS)  # #2
    done = engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv")
    assert done.created == 1 and (done.first_number, done.last_number) == (3, 3)
    [(kind, skipped)] = done.skipped
    assert (kind, skipped.line, skipped.name) == ("cooldown", 2, "Ann")
    assert "already asked" in skipped.reason and "#2" in skipped.reason
    assert "Send anyway" not in skipped.reason
    assert len(statuses(db)) == 3  # Ann's #1 and #2, Bob's #3: Ann not asked a third time


def test_the_same_file_imported_twice_asks_each_customer_once(
    engine: Engine, db: Database, clock: FrozenClock
) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="Ann", phone="0610000001"), BOSS)
    clock.advance(timedelta(days=40))
    first = engine.ops.imports.check(engine.ws, read_csv(ANN), ImportOptions())
    second = engine.ops.imports.check(engine.ws, read_csv(ANN), ImportOptions())
    assert len(first.ready) == len(second.ready) == 1
    engine.ops.imports.confirm(engine.ws, first, BOSS, file_name="a.csv", key="k1")
    again = engine.ops.imports.confirm(engine.ws, second, BOSS, file_name="a.csv", key="k2")
    assert again.created == 0 and [k for k, _ in again.skipped] == ["cooldown"]
    assert len(statuses(db)) == 2  # the send form's #1 and the first import's #2
    assert state_of(db, again.import_id) == ("done", 0)


def test_a_contact_created_after_the_dry_run_is_used_not_a_unique_violation(
    engine: Engine, db: Database
) -> None:
    engine.ops.update_policy(
        engine.ws, engine.ops.policy(engine.ws).model_copy(update={"cooldown_days": 0}), BOSS
    )
    data = b"name,phone,email\nBob,0610000002,bob@example.fr\nCyd,0610000003,\n"
    plan = engine.ops.imports.check(engine.ws, read_csv(data), ImportOptions())
    assert [r.contact_id for r in plan.ready] == [None, None]
    made = engine.ops.create(engine.ws, RequestCreate(name="Bob", phone="0610000002"), BOSS)
    done = engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv")
    assert done.created == 2 and done.skipped == []
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Contact)).one() == 2
        bob = session.exec(select(ReviewRequest).where(ReviewRequest.number == 2)).one()
        assert bob.contact_id == made.contact_id
        contact = session.get(Contact, made.contact_id)
        assert contact is not None and contact.email == "bob@example.fr"  # merged


def test_two_rows_now_one_contact_are_asked_once(engine: Engine, db: Database) -> None:
    engine.ops.update_policy(
        engine.ws, engine.ops.policy(engine.ws).model_copy(update={"cooldown_days": 0}), BOSS
    )
    data = b"name,phone,email\nBob,0610000002,\nBobby,,bob@example.fr\n"
    plan = engine.ops.imports.check(engine.ws, read_csv(data), ImportOptions(method="sms_or_email"))
    assert len(plan.ready) == 2
    # Meanwhile someone asks Bob with both: the two rows are now the same customer.
    engine.ops.create(
        engine.ws, RequestCreate(name="Bob", phone="0610000002", email="bob@example.fr"), BOSS
    )
    done = engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv")
    assert done.created == 1 and [(k, s.line) for k, s in done.skipped] == [("duplicate", 3)]


def test_a_progress_display_that_fails_does_not_stop_the_import(
    engine: Engine, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "BATCH", 10)
    plan = engine.ops.imports.check(engine.ws, read_csv(big(30)), ImportOptions())
    calls: list[int] = []

    def flaky(done: int, total: int) -> None:
        calls.append(done)
        raise OSError("slack timed out")  # views_update over a flaky network

    done = engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv", on_progress=flaky)
    assert calls == [10, 20, 30] and done.created == 30
    assert state_of(db, done.import_id) == ("done", 30)


def test_a_failure_partway_names_the_import_and_what_it_created(
    engine: Engine, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "BATCH", 10)
    data = b"name,phone,email\n" + b"\n".join(
        f"C{i},06 10 00 00 {i:02d},c{i}@example.fr".encode() for i in range(30)
    )
    plan = engine.ops.imports.check(engine.ws, read_csv(data), ImportOptions())

    def break_the_database(done: int, total: int) -> None:
        if done == 20:  # the event table disappears: the third batch can't be written
            with db.write() as session:
                session.execute(text("ALTER TABLE event RENAME TO event_gone"))

    try:
        with pytest.raises(ImportFailed) as failed:
            engine.ops.imports.confirm(
                engine.ws, plan, BOSS, file_name="a.csv", on_progress=break_the_database
            )
    finally:
        with db.write() as session:
            session.execute(text("ALTER TABLE event_gone RENAME TO event"))
    assert (failed.value.import_id, failed.value.created) == (1, 20)
    assert failed.value.message == "Import 1: 20 requests created before it stopped."
    assert "example.fr" not in str(failed.value) and "0610" not in str(failed.value)
    assert state_of(db, 1) == ("failed", 20)
    assert engine.ops.cancel_import(engine.ws, 1, BOSS).changed == list(range(1, 21))


def test_imported_requests_are_told_created_like_the_send_forms(engine: Engine) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="Ann", phone="0610000001"), BOSS)
    data = b"name,phone\nBob,0610000002\nCyd,0610000003\n"
    plan = engine.ops.imports.check(engine.ws, read_csv(data), ImportOptions())
    engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv")
    created = [(n, c.text) for n, c in engine.notifier.changes if c.kind == "created"]
    assert created == [
        (1, "Requested by <@U0ADMIN>"),
        (2, "Imported by <@U0ADMIN> (import 1)"),
        (3, "Imported by <@U0ADMIN> (import 1)"),
    ]


def test_a_customer_who_opted_out_after_the_dry_run_is_skipped(
    engine: Engine, db: Database
) -> None:
    engine.ops.update_policy(
        engine.ws, engine.ops.policy(engine.ws).model_copy(update={"cooldown_days": 0}), BOSS
    )
    engine.ops.create(engine.ws, RequestCreate(name="Ann", phone="0610000001"), BOSS)
    engine.dispatcher.run_until_idle()
    plan = engine.ops.imports.check(engine.ws, read_csv(ANN + b"Bob,0610000002\n"), ImportOptions())
    assert len(plan.ready) == 2
    # Meanwhile Ann texts STOP (Twilio's inbound webhook, through the real use-case).
    Feedback(engine.ops).inbound(
        sid="SMstop1", from_="+33610000001", to="+15005550006", body="STOP"
    )
    done = engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv")
    assert done.created == 1
    [(kind, skipped)] = done.skipped
    assert (kind, skipped.line) == ("opted_out", 2) and "opted out" in skipped.reason
    with db.read() as session:
        bob = session.exec(select(ReviewRequest).where(ReviewRequest.number == 2)).one()
        assert bob.phone == "+33610000002"


def test_new_contacts_inserted_meanwhile_by_someone_else_are_read_back(
    engine: Engine, db: Database
) -> None:
    """The store's insert of a batch's new contacts: ON CONFLICT DO NOTHING, then read back (a
    request edited to this phone or email meanwhile commits its contact first)."""
    made = engine.ops.create(
        engine.ws, RequestCreate(name="Bob", phone="0610000002", email="bob@example.fr"), BOSS
    )
    rows = [
        {"workspace_id": engine.ws, "name": "B", "phone": "+33610000002", "email": None},
        {
            "workspace_id": engine.ws,
            "name": "C",
            "phone": "+33610000009",
            "email": "BOB@example.fr",
        },
        {"workspace_id": engine.ws, "name": "D", "phone": "+33610000003", "email": None},
    ]
    with db.write() as session:
        now = engine.clock.now()
        ids = import_store.insert_contacts(
            session, engine.ws, [{**r, "language": "fr", "created_at": now} for r in rows]
        )
    assert ids[0] == ids[1] == made.contact_id and ids[2] != made.contact_id
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Contact)).one() == 2
