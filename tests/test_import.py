"""CSV imports: reading the file, the dry run (nothing stored), the batches, `import:ID`, cancel.

The real use-cases on SQLite and PostgreSQL; the CLI in-process (`reviewops import`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.clock import FrozenClock
from bot.domain.errors import InvalidInput
from bot.domain.import_file import MAX_FILE_BYTES, read_csv
from bot.usecases.actors import Actor
from bot.usecases.history import HistoryFilter, count_matching
from bot.usecases.import_plan import ImportOptions
from bot.usecases.inputs import RequestCreate
from bot.usecases.once import AlreadyCreated
from handlers.parsing import parse_list_query
from store.db import Database
from store.integration_models import ImportBatch
from store.models import Audit, Contact, Event, Message, ReviewRequest
from tests.helpers import CliInvoke, Engine, cli_invoker

BOSS = Actor("U0ADMIN", "boss", admin=True)

FRENCH = (
    "Nom;Téléphone;E-mail;Référence;Langue\r\n"
    "Éloïse Dupré;06 10 20 30 40;eloise@example.fr;CMD-1;fr\r\n"
    "Bob;0611111111;;CMD-2;\r\n"
    "Bad;12;;;\r\n"
    "Éloïse encore;;ELOISE@example.fr;;\r\n"
    "Nobody;;;;\r\n"
    "Carl;;carl@example;;\r\n"
    ";;;;\r\n"
    "Sven;0612121212;;;sv\r\n"
).encode("cp1252")


def count(db: Database, model: type) -> int:
    with db.read() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    return Engine(db, clock, region="FR", cooldown_days=30)


# --- reading the file ------------------------------------------------------------------------


def test_a_french_spreadsheet_export_is_read_in_cp1252_with_semicolons() -> None:
    file = read_csv(FRENCH)
    assert (file.encoding, file.delimiter) == ("cp1252", ";")
    assert file.fields == ("name", "phone", "email", "reference", "language")
    assert [r.line for r in file.rows] == [2, 3, 4, 5, 6, 7, 9]  # the blank row is dropped
    assert file.rows[0].values["name"] == "Éloïse Dupré"


def test_swedish_headers_in_utf8_with_bom_and_commas() -> None:
    text = '\ufeffNamn,Telefon,E-post,Typ\n"Åsa, Ek",070-123 45 67,asa@example.se,produkt\n'
    file = read_csv(text.encode("utf-8"))
    assert (file.encoding, file.delimiter) == ("utf-8", ",")
    assert file.rows[0].values == {
        "name": "Åsa, Ek",
        "phone": "070-123 45 67",
        "email": "asa@example.se",
        "type": "produkt",
    }


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"x" * (MAX_FILE_BYTES + 1), "at most 10 MB"),
        (b"name,city\nJane,Paris\n", "needs a phone or an email column"),
        (b"", "empty"),
        (b"PK\x03\x04\x00\x00binary", "looks binary"),
        (b"name,phone\nJane," + b"1" * 2000 + b"\n", "at most 1,000"),
        (b'name,phone\n"Jane,0610203040\n', "can't be read as CSV"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_before_any_row(data: bytes, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        read_csv(data)
    assert words in refused.value.message
    assert refused.value.field == "file"


def test_more_rows_than_allowed_are_refused() -> None:
    data = ("phone\n" + "0610203040\n" * 11).encode()
    with pytest.raises(InvalidInput, match="more than 10 rows"):
        read_csv(data, max_rows=10)


# --- the dry run -----------------------------------------------------------------------------


def test_the_dry_run_says_what_is_sent_and_why_rows_are_skipped_and_stores_nothing(
    engine: Engine, db: Database
) -> None:
    before = [count(db, m) for m in (ReviewRequest, Contact, Message, ImportBatch)]
    plan = engine.ops.imports.check(engine.ws, read_csv(FRENCH), ImportOptions())
    assert [r.line for r in plan.ready] == [2, 3, 9]
    assert [r.plan.phone for r in plan.ready] == ["+33610203040", "+33611111111", "+33612121212"]
    assert plan.ready[2].plan.language == "sv"
    assert plan.ready[0].data.origin == "import"
    invalid = {s.line: s.reason for s in plan.skipped["invalid"]}
    assert set(invalid) == {4, 6, 7}
    assert "not a valid phone number" in invalid[4]
    assert "No phone number or email" in invalid[6]
    assert "not a valid email" in invalid[7]
    assert [(s.line, s.reason) for s in plan.skipped["duplicate"]] == [
        (5, "Same customer as line 2.")
    ]
    assert plan.skipped_count == 4 and plan.total == 7
    assert plan.segments == sum(r.segments for r in plan.ready) and plan.segments >= 3
    assert plan.cost == Decimal("0.045") * plan.segments
    assert [count(db, m) for m in (ReviewRequest, Contact, Message, ImportBatch)] == before


def test_cooldown_opt_outs_and_erased_customers_are_skipped_by_the_send_forms_rules(
    engine: Engine, db: Database, clock: FrozenClock
) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="Recent", phone="0610000001"), BOSS)
    engine.ops.create(engine.ws, RequestCreate(name="Stopped", phone="0610000002"), BOSS)
    gone = engine.ops.create(engine.ws, RequestCreate(name="Gone", email="gone@example.fr"), BOSS)
    with db.write() as session:
        engine.ops.journal.opt_out_phone(session, "+33610000002", "replied STOP", clock.now())
        engine.ops.journal.opt_out_email(
            session, engine.ws, "gone@example.fr", "unsubscribed", clock.now(), BOSS
        )
    assert gone.contact_id is not None
    engine.ops.erasure.erase_customer(engine.ws, gone.contact_id, BOSS)
    clock.advance(timedelta(days=1))
    data = (
        b"phone,email,name\n"
        b"0610000001,,Recent\n0610000002,,Stopped\n,gone@example.fr,Gone\n0610000003,,New\n"
    )
    plan = engine.ops.imports.check(engine.ws, read_csv(data), ImportOptions())
    assert [r.line for r in plan.ready] == [5]
    assert [s.line for s in plan.skipped["cooldown"]] == [2]
    assert "already asked" in plan.skipped["cooldown"][0].reason
    assert [s.line for s in plan.skipped["opted_out"]] == [3]
    assert "opted out" in plan.skipped["opted_out"][0].reason
    assert [s.line for s in plan.skipped["erased"]] == [4]
    assert "asked to be erased" in plan.skipped["erased"][0].reason


def test_consent_required_refuses_the_whole_import_without_it(engine: Engine) -> None:
    engine.ops.update_policy(
        engine.ws,
        engine.ops.policy(engine.ws).model_copy(update={"require_consent": True}),
        BOSS,
    )
    with pytest.raises(InvalidInput) as refused:
        engine.ops.imports.check(engine.ws, read_csv(FRENCH), ImportOptions())
    assert refused.value.field == "consent"
    plan = engine.ops.imports.check(engine.ws, read_csv(FRENCH), ImportOptions(consent=True))
    assert len(plan.ready) == 3


# --- creating --------------------------------------------------------------------------------


def big_file(rows: int) -> bytes:
    lines = ["name,phone,reference"]
    lines += [f"Client {i},06 {i // 100 % 100:02d} {i % 100:02d} 00 00,R-{i}" for i in range(rows)]
    return "\n".join(lines).encode()


def test_confirmed_rows_are_created_in_batches_with_one_import_id_spread_over_time(
    engine: Engine, db: Database, clock: FrozenClock
) -> None:
    plan = engine.ops.imports.check(engine.ws, read_csv(big_file(2_500)), ImportOptions(when="now"))
    assert len(plan.ready) == 2_500
    progress: list[tuple[int, int]] = []
    done = engine.ops.imports.confirm(
        engine.ws,
        plan,
        BOSS,
        file_name="clients.csv",
        on_progress=lambda d, t: progress.append((d, t)),
    )
    assert progress == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]
    assert (done.created, done.first_number, done.last_number) == (2_500, 1, 2_500)
    with db.read() as session:
        batch = session.get(ImportBatch, done.import_id)
        assert batch is not None
        assert (batch.state, batch.rows, batch.created, batch.file_name) == (
            "done",
            2_500,
            2_500,
            "clients.csv",
        )
        requests = session.exec(select(ReviewRequest).order_by(ReviewRequest.number)).all()
        assert {r.import_id for r in requests} == {done.import_id}
        assert {(r.origin, r.status, r.channel) for r in requests} == {("import", "queued", "sms")}
        assert requests[7].reference == "R-7" and requests[7].phone == "+33600070000"
        messages = session.exec(select(Message).order_by(Message.id)).all()
        assert len(messages) == 2_500 and {m.status for m in messages} == {"queued"}
        assert len({m.token for m in messages}) == 2_500
        # 10 a second from now: the last one 250 s after the first, not one wave.
        assert messages[0].due_at == clock.now()
        assert messages[-1].due_at - messages[0].due_at == timedelta(seconds=249.9)
        created = session.exec(select(Event).where(Event.kind == "created")).all()
        assert len(created) == 2_500 and created[0].detail["import_id"] == done.import_id
        assert count(db, Contact) == 2_500
        audit = session.exec(select(Audit).where(Audit.action == "import")).one()
        assert audit.detail["to_send"] == 2_500 and audit.target == f"import {done.import_id}"


def test_an_import_updates_a_known_contact_and_the_dispatcher_sends_its_requests(
    engine: Engine, db: Database, clock: FrozenClock
) -> None:
    engine.ops.update_policy(
        engine.ws, engine.ops.policy(engine.ws).model_copy(update={"cooldown_days": 0}), BOSS
    )
    old = engine.ops.create(engine.ws, RequestCreate(name="customer", phone="0610203040"), BOSS)
    engine.dispatcher.run_until_idle()
    data = "nom;téléphone;e-mail\nJeanne;06 10 20 30 40;jeanne@example.fr\n".encode()
    plan = engine.ops.imports.check(engine.ws, read_csv(data), ImportOptions(when="now"))
    engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv")
    engine.dispatcher.run_until_idle()
    with db.read() as session:
        contact = session.get(Contact, old.contact_id)
        assert contact is not None
        assert (contact.name, contact.email) == ("Jeanne", "jeanne@example.fr")
        assert count(db, Contact) == 1
        newest = session.exec(select(ReviewRequest).where(ReviewRequest.number == 2)).one()
        assert newest.contact_id == old.contact_id and newest.status == "sent"
    assert engine.console_out.getvalue().count("+33610203040") == 2


def test_the_import_filter_and_cancelling_the_whole_import(engine: Engine, db: Database) -> None:
    engine.ops.create(engine.ws, RequestCreate(name="Other", phone="0699999999"), BOSS)
    plan = engine.ops.imports.check(engine.ws, read_csv(FRENCH), ImportOptions())
    done = engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="clients.csv")
    assert count_matching(db, engine.ws, HistoryFilter(import_id=done.import_id)) == 3
    result = engine.ops.cancel_import(engine.ws, done.import_id, BOSS)
    assert sorted(result.changed) == [2, 3, 4]
    with db.read() as session:
        statuses = dict(session.exec(select(ReviewRequest.number, ReviewRequest.status)).all())
        assert statuses == {1: "queued", 2: "canceled", 3: "canceled", 4: "canceled"}
        batch = session.get(ImportBatch, done.import_id)
        assert batch is not None and batch.state == "canceled"
        audit = session.exec(select(Audit).where(Audit.action == "cancel_import")).one()
        assert audit.detail == {"canceled": 3, "refused": 0}
    with pytest.raises(Exception, match="no import 99"):
        engine.ops.cancel_import(engine.ws, 99, BOSS)


def test_a_repeated_confirm_delivery_creates_nothing(engine: Engine, db: Database) -> None:
    plan = engine.ops.imports.check(engine.ws, read_csv(FRENCH), ImportOptions())
    engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv", key="view:V1:abc")
    with pytest.raises(AlreadyCreated):
        engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv", key="view:V1:abc")
    assert count(db, ReviewRequest) == 3 and count(db, ImportBatch) == 1


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    invoke("settings", "set", "send_window=always", "business_name=Chez Jane")
    (tmp_path / "clients.csv").write_bytes(FRENCH)
    return invoke


def test_cli_dry_run_prints_the_plan_and_stores_nothing(run: CliInvoke, database_url: str) -> None:
    result = run("import", "clients.csv", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "clients.csv: 7 rows (cp1252, ';')" in out
    assert "to send: 3" in out and "skipped: 4" in out
    assert "line 4: '12' is not a valid phone number for FR." in out
    assert "duplicate rows in the file: 1" in out and "line 5: Same customer as line 2." in out
    assert "SMS: 3 messages" in out and "EUR" in out
    assert count(Database(database_url), ReviewRequest) == 0


def test_cli_import_creates_lists_and_cancels(run: CliInvoke, database_url: str) -> None:
    result = run("import", "clients.csv", "--yes", "--via", "sms", "--delay", "2h")
    assert result.exit_code == 0, result.output
    assert "Import 1: 3 requests created (#1-#3)." in result.output
    listing = run("list", "--import", "1")
    assert listing.exit_code == 0
    assert "Sven" in listing.output and "queued" in listing.output
    exported = run("export", "--import", "1", "--out", "-")  # the same filters as list
    assert exported.exit_code == 0 and exported.stdout.count("\n") == 4  # a header, 3 rows
    assert run("export", "--import", "x", "--out", "-").exit_code == 2
    cancel = run("import", "cancel", "1")
    assert cancel.exit_code == 0, cancel.output
    assert "Import 1: 3 requests canceled." in cancel.output
    db = Database(database_url)
    with db.read() as session:
        assert set(session.exec(select(ReviewRequest.status)).all()) == {"canceled"}
    db.dispose()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["import", "missing.csv"], "can't read missing.csv"),
        (["import", "clients.csv", "--via", "pigeon"], "--via must be one of"),
        (["import", "clients.csv", "--delay", "soon"], "--delay"),
        (["import", "cancel", "x"], "not an import id"),
        (["import", "cancel", "7"], "There is no import 7."),
        (["list", "--import", "abc"], "--import takes an import's id"),
    ],
)
def test_cli_bad_input_exits_2_and_stores_nothing(
    run: CliInvoke, database_url: str, args: list[str], words: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert count(Database(database_url), ReviewRequest) == 0


def test_cli_refuses_a_file_it_cannot_read(run: CliInvoke, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_bytes(b"name,city\nJane,Paris\n")
    result = run("import", "bad.csv")
    assert result.exit_code == 2
    assert "bad.csv: The header row needs a phone or an email column" in result.output


def test_the_list_reads_import_words() -> None:
    query = parse_list_query("import:#3 status:queued jane", timezone="UTC", user_id="U1")
    assert query.filter.import_id == 3 and query.filter.text == "jane"
    with pytest.raises(InvalidInput, match="not an import: write its id, like import:3"):
        parse_list_query("import:last", timezone="UTC", user_id="U1")


def test_an_import_is_one_log_line_not_one_per_row(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    plan = engine.ops.imports.check(engine.ws, read_csv(big_file(1_200)), ImportOptions())
    with caplog.at_level(logging.INFO, logger="reviewops.events"):
        engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="big.csv")
    lines = [r for r in caplog.records if r.name == "reviewops.events"]
    assert [r.getMessage() for r in lines] == [
        "import 1 done: 1200 requests created, 0 skipped since the check [T0001]"
    ]
    assert lines[0].event == "import.finished"  # type: ignore[attr-defined]
