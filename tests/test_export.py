"""The CSV export's content, on SQLite and PostgreSQL: columns, separators, BOM, injection."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from bot.clock import FrozenClock
from bot.export import BOM, HEADERS, ExportOptions, Separator, neutralise, write_csv
from bot.usecases.history import HistoryFilter
from store.db import Database
from tests.export_rows import add_requests
from tests.helpers import Engine


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    return Engine(db, clock, timezone="Europe/Paris")


def export(
    engine: Engine,
    f: HistoryFilter | None = None,
    *,
    separator: Separator = ",",
    bom: bool = False,
    batch: int = 1000,
) -> tuple[bytes, list[list[str]]]:
    """Run the export into memory; return the raw bytes and the parsed rows (header first)."""
    out = io.BytesIO()
    opts = ExportOptions(separator=separator, bom=bom, timezone="Europe/Paris")
    progress: list[int] = []
    rows = write_csv(
        engine.db,
        engine.ws,
        f or HistoryFilter(),
        out,
        options=opts,
        batch=batch,
        progress=progress.append,
        every=1,
    )
    raw = out.getvalue()
    text = raw.decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=opts.separator))
    assert len(parsed) == rows + 1
    assert progress == list(range(1, rows + 1))
    return raw, parsed


def test_one_request_in_every_column_with_workspace_times(engine: Engine) -> None:
    now = engine.clock.now()  # 2026-11-23 10:00 UTC, 11:00 in Paris
    add_requests(
        engine.db,
        engine.ws,
        [
            {
                "customer_name": "Jane Doe",
                "email": "jane@example.com",
                "phone": "+33610203040",
                "channel": "sms+email",
                "method": "sms_and_email",
                "created_by": "U0BOB",
                "created_by_name": "Bob Martin",
                "status": "clicked",
                "review_type": "product",
                "reference": "A-1042",
                "retries": 2,
                "last_error": "30003 Unreachable handset",
                "sent_at": now + timedelta(minutes=1),
                "delivered_at": now + timedelta(minutes=2),
                "opened_at": now + timedelta(hours=1),
                "clicked_at": now + timedelta(hours=2, seconds=5),
                "origin": "cli",
                "consent_at": now,
            }
        ],
        at=now,
    )
    _, rows = export(engine)
    assert tuple(rows[0]) == HEADERS
    assert rows[1] == [
        "1",
        "Jane Doe",
        "jane@example.com",
        "'+33610203040",
        "SMS + Email",
        "Bob Martin",
        "clicked",
        "2026-11-23 11:00:00",
        "2026-11-23 11:01:00",
        "product",
        "A-1042",
        "2",
        "30003 Unreachable handset",
        "2026-11-23 11:02:00",
        "2026-11-23 12:00:00",
        "2026-11-23 13:00:05",
        "cli",
        "2026-11-23 11:00:00",
    ]


def test_header_names_the_columns_in_order() -> None:
    assert HEADERS == (
        "Number", "Customer name", "Email", "Phone", "Sent via", "Sent by", "Status",
        "Created", "Sent", "Type", "Reference", "Retries", "Last error", "Delivered at",
        "Opened at", "Clicked at", "Origin", "Consent",
    )  # fmt: skip


@pytest.mark.parametrize("separator", [",", ";"])
def test_both_separators_quote_what_needs_quoting(engine: Engine, separator: Separator) -> None:
    add_requests(
        engine.db,
        engine.ws,
        [{"customer_name": 'Doe, "Jane"; jr', "reference": "line1\nline2"}],
        at=engine.clock.now(),
    )
    raw, rows = export(engine, separator=separator)
    header = raw.split(b"\r\n", 1)[0].decode()
    assert header == separator.join(HEADERS)
    assert rows[1][1] == 'Doe, "Jane"; jr' and rows[1][10] == "line1\nline2"
    assert b'"Doe, ""Jane""; jr"' in raw


def test_bom_only_when_asked(engine: Engine) -> None:
    add_requests(engine.db, engine.ws, [{"customer_name": "Zoé Ångström"}], at=engine.clock.now())
    plain, _ = export(engine)
    with_bom, rows = export(engine, bom=True)
    assert not plain.startswith(BOM) and plain.startswith(b"Number,")
    assert with_bom.startswith(BOM + b"Number,")
    assert with_bom[len(BOM) :] == plain
    assert "Zoé Ångström".encode() in plain and rows[1][1] == "Zoé Ångström"


HOSTILE = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("trigger", HOSTILE)
def test_formula_triggers_are_neutralised_in_every_text_column(
    engine: Engine, trigger: str
) -> None:
    value = f"{trigger}1+1"
    add_requests(
        engine.db,
        engine.ws,
        [
            {
                "customer_name": f'{trigger}HYPERLINK("http://evil.example","x")',
                "email": value,
                "phone": value,
                "channel": value,
                "created_by_name": value,
                "status": value,
                "review_type": value,
                "reference": value,
                "last_error": value,
            }
        ],
        at=engine.clock.now(),
    )
    _, rows = export(engine)
    row = rows[1]
    assert row[1] == f'\'{trigger}HYPERLINK("http://evil.example","x")'
    for index in (2, 3, 5, 6, 9, 10, 12):
        assert row[index] == f"'{value}", HEADERS[index]
    # "Sent via" is labelled first ("+" splits channels), then neutralised like the rest.
    assert row[4].startswith("'") or row[4][:1] not in HOSTILE
    assert all(cell[:1] not in HOSTILE for cell in row)


def test_a_hyperlink_formula_name_is_neutralised() -> None:
    assert neutralise('=HYPERLINK("http://evil.example","click")') == (
        '\'=HYPERLINK("http://evil.example","click")'
    )
    assert neutralise("Jane = Doe") == "Jane = Doe"
    assert neutralise("") == ""


def test_every_row_across_many_internal_pages_newest_first(engine: Engine) -> None:
    # 25 rows in pages of 4, with ties on created_at to exercise the keyset's id order.
    now = engine.clock.now()
    add_requests(engine.db, engine.ws, [{} for _ in range(13)], at=now)
    add_requests(engine.db, engine.ws, [{} for _ in range(12)], at=now)
    _, rows = export(engine, batch=4)
    numbers = [int(r[0]) for r in rows[1:]]
    assert sorted(numbers) == list(range(1, 26))
    assert len(set(numbers)) == 25
    created = [r[7] for r in rows[1:]]
    assert created == sorted(created, reverse=True)


def test_filters_are_respected(engine: Engine) -> None:
    now = engine.clock.now()
    add_requests(
        engine.db,
        engine.ws,
        [
            {"customer_name": "Ana Failed", "status": "failed"},
            {
                "customer_name": "Bob Email",
                "channel": "email",
                "email": "bob@example.com",
                "phone": None,
                "status": "sent",
            },  # fmt: skip
            {"customer_name": "Cleo Old", "status": "failed"},
        ],
        at=now,
    )
    add_requests(
        engine.db, engine.ws, [{"customer_name": "Dan Ancient"}], at=now - timedelta(days=40)
    )
    names = lambda rows: [r[1] for r in rows[1:]]  # noqa: E731
    _, failed = export(engine, HistoryFilter(statuses=frozenset({"failed"})))
    assert names(failed) == ["Ana Failed", "Cleo Old"]
    _, by_email = export(engine, HistoryFilter(channel="email"))
    assert names(by_email) == ["Bob Email"]
    _, text = export(engine, HistoryFilter(text="cleo"))
    assert names(text) == ["Cleo Old"]
    _, recent = export(engine, HistoryFilter(created_from=now - timedelta(days=7)))
    assert "Dan Ancient" not in names(recent) and len(names(recent)) == 3
    _, nothing = export(engine, HistoryFilter(text="nobody"))
    assert nothing == [list(HEADERS)]


def test_deleted_requests_and_other_workspaces_are_not_exported(engine: Engine) -> None:
    other = engine.ops.ensure_workspace("T0OTHER", "Other")
    assert other.id is not None
    now = engine.clock.now()
    add_requests(engine.db, other.id, [{"customer_name": "Elsewhere"}], at=now)
    add_requests(engine.db, engine.ws, [{"customer_name": "Gone", "deleted_at": now}, {}], at=now)
    _, rows = export(engine)
    assert [r[1] for r in rows[1:]] == ["Customer 2"]
