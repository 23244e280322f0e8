"""History queries on SQLite and PostgreSQL: every filter, text search, keyset pages, FTS sync."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel, select

import store.integration_models  # noqa: F401  (its tables on the metadata compared)
from bot.clock import FrozenClock
from bot.domain.contacts import PhoneSearch, phone_search
from bot.domain.errors import InvalidInput
from bot.usecases.actors import Actor
from bot.usecases.history import STATUS_GROUPS
from bot.usecases.inputs import RequestCreate
from handlers.parsing import parse_list_query
from store import db as store_db
from store.db import Database, include_name, include_object_for
from store.filter_sql import HistoryFilter
from store.models import ReviewRequest
from store.queries import (
    PG_PROBE_MIN_TEXT,
    Cursor,
    count_groups,
    count_requests,
    counts,
    iter_requests,
    list_requests,
    page_query,
    plan_hints,
)
from store.search import PlanHints
from tests.conftest import START
from tests.helpers import ALICE, Engine, cli_invoker

BOB = Actor("U0BOB", "bob")
DAY = timedelta(days=1)


def _search(text_: str, region: str = "FR") -> HistoryFilter:
    phone = phone_search(text_, region)
    return HistoryFilter(text=text_, phone=phone.e164, phone_prefix=phone.prefix)


class History:
    """Requests made by the real use-cases, then given the state a filter looks at."""

    def __init__(self, db: Database, clock: FrozenClock) -> None:
        self.db = db
        self.clock = clock
        self.engine = Engine(db, clock, cooldown_days=0, delay="0")
        self.ws = self.engine.ws

    def add(
        self,
        name: str,
        *,
        phone: str | None = None,
        email: str | None = None,
        method: str | None = None,
        actor: Actor = ALICE,
        review_type: str = "service",
        reference: str | None = None,
        **state: Any,
    ) -> int:
        if method is None:
            method = "sms" if phone else "email"
        request = self.engine.ops.create(
            self.ws,
            RequestCreate(
                name=name,
                phone=phone,
                email=email,
                method=method,  # type: ignore[arg-type]
                review_type=review_type,  # type: ignore[arg-type]
                reference=reference,
                override_cooldown=True,
            ),
            actor,
        )
        if state:
            with self.db.write() as session:
                row = session.get(ReviewRequest, request.id)
                assert row is not None
                for key, value in state.items():
                    setattr(row, key, value)
        return request.number

    def numbers(self, f: HistoryFilter, *, limit: int = 100) -> list[int]:
        with self.db.read() as session:
            return [r.number for r in list_requests(session, self.ws, f, limit=limit).rows]


@pytest.fixture
def history(db: Database, clock: FrozenClock) -> History:
    return History(db, clock)


@pytest.fixture
def sample(history: History) -> dict[str, int]:
    """A small history, one day apart, oldest first: each row differs in what filters see."""
    h, c = history, history.clock
    made: dict[str, int] = {}

    def add(key: str, *args: Any, **kwargs: Any) -> None:
        made[key] = h.add(*args, **kwargs)
        c.advance(DAY)

    add("jane", "Jane Doe", phone="06 10 20 30 40", status="delivered", sent_at=c.now())
    add(
        "jean",
        "Jean Dupont",
        email="jean.dupont@example.fr",
        status="failed",
        sent_at=c.now() + 3 * DAY,  # scheduled: sent three days after it was made
    )
    add(
        "both",
        "Marie Curie",
        phone="+33 6 11 22 33 44",
        email="marie@example.org",
        method="sms_and_email",
        actor=BOB,
        review_type="product",
        reference="A-1",
        status="clicked",
        sent_at=c.now(),
    )
    add("wa", "Åsa Öberg", phone="0612345678", method="whatsapp", actor=BOB, status="queued")
    add("gone", "Jane Gone", phone="0699887766", deleted_at=c.now())
    add("ref", "Zed Zappa", email="zed@example.com", reference="A-2", status="canceled")
    return made


def _nums(sample: dict[str, int], *keys: str) -> list[int]:
    # Newest first, as every page is.
    return sorted((sample[k] for k in keys), reverse=True)


FILTER_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("everything", {}, ("jane", "jean", "both", "wa", "ref")),
    ("one status", {"statuses": frozenset({"failed"})}, ("jean",)),
    ("a set of statuses", {"statuses": frozenset({"queued", "clicked"})}, ("both", "wa")),
    ("sms incl. sms+email", {"channel": "sms"}, ("jane", "both")),
    ("email incl. sms+email", {"channel": "email"}, ("jean", "both", "ref")),
    ("whatsapp", {"channel": "whatsapp"}, ("wa",)),
    ("sent by", {"created_by": "U0BOB"}, ("both", "wa")),
    ("review type", {"review_type": "product"}, ("both",)),
    ("reference", {"reference": "A-2"}, ("ref",)),
    ("created from", {"created_from": START + 2 * DAY}, ("both", "wa", "ref")),
    ("created to (exclusive)", {"created_to": START + 2 * DAY}, ("jane", "jean")),
    ("sent from", {"sent_from": START + 2 * DAY}, ("jean", "both")),
    # Made on day 1, sent on day 4: the sent range finds it though it was created earlier.
    ("sent range", {"sent_from": START + 3 * DAY, "sent_to": START + 5 * DAY}, ("jean",)),
    ("sent to (exclusive)", {"sent_to": START + 2 * DAY}, ("jane",)),
    (
        "status and channel",
        {"statuses": frozenset({"clicked", "delivered"}), "channel": "sms"},
        ("jane", "both"),
    ),
    (
        "sender, type and created range",
        {
            "created_by": "U0BOB",
            "review_type": "product",
            "created_from": START,
            "created_to": START + 3 * DAY,
        },
        ("both",),
    ),
    (
        "channel and sent range",
        {"channel": "email", "sent_from": START, "sent_to": START + 10 * DAY},
        ("jean", "both"),
    ),
    ("nothing matches", {"statuses": frozenset({"failed"}), "channel": "whatsapp"}, ()),
]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [pytest.param(fields, expected, id=name) for name, fields, expected in FILTER_CASES],
)
def test_each_filter_and_combination(
    history: History, sample: dict[str, int], fields: dict[str, Any], expected: tuple[str, ...]
) -> None:
    f = HistoryFilter(**fields)
    assert history.numbers(f) == _nums(sample, *expected)
    with history.db.read() as session:
        assert [r.number for r in iter_requests(session, history.ws, f, batch=2)] == _nums(
            sample, *expected
        )


def test_pages_and_counts_of_one_shape_read_again_with_other_values_get_their_own_rows(
    history: History, sample: dict[str, int]
) -> None:
    # A page's and its counts' statements are built once per shape of filter and kept; the
    # values (here who sent, and the statuses) must not stay with them.
    cases = [
        ("U0BOB", {"queued", "clicked"}, ("both", "wa")),
        (ALICE.id, {"failed", "delivered"}, ("jane", "jean")),
        ("U0BOB", {"failed"}, ()),
        (ALICE.id, {"canceled", "failed"}, ("jean", "ref")),
    ]
    for sender, statuses, expected in cases:
        f = HistoryFilter(created_by=sender, statuses=frozenset(statuses))
        assert history.numbers(f) == _nums(sample, *expected)
        with history.db.read() as session:
            together = count_groups(session, history.ws, f, STATUS_GROUPS)
        assert together == {
            key: len(history.numbers(replace(f, statuses=group)))
            for key, group in STATUS_GROUPS.items()
        }


@pytest.mark.parametrize(
    "fields",
    [pytest.param(fields, id=name) for name, fields, _ in FILTER_CASES]
    + [pytest.param({"text": "jane"}, id="text"), pytest.param({"text": "@example"}, id="email")],
)
def test_the_status_groups_counted_in_one_pass_are_each_groups_own_count(
    history: History, sample: dict[str, int], fields: dict[str, Any]
) -> None:
    f = HistoryFilter(**fields)
    with history.db.read() as session:
        together = count_groups(session, history.ws, f, STATUS_GROUPS)
        each = {
            key: count_requests(session, history.ws, replace(f, statuses=group))
            for key, group in STATUS_GROUPS.items()
        }
    assert together == each
    # and each is the number of rows the list shows for that group
    assert each == {
        key: len(history.numbers(replace(f, statuses=group)))
        for key, group in STATUS_GROUPS.items()
    }


SEARCH_CASES: list[tuple[str, tuple[str, ...]]] = [
    ("jane", ("jane",)),  # a name prefix; the deleted "Jane Gone" is left out
    ("DUPONT", ("jean",)),  # a later word, any case
    ("upon", ("jean",)),  # a substring inside a word
    ("ane do", ("jane",)),  # across the space
    ("Öberg", ("wa",)),  # non-ASCII
    ("jean.dupont@", ("jean",)),  # an email prefix
    ("example.org", ("both",)),  # the end of an email
    ("@example", ("jean", "both", "ref")),
    ("06 10 20 30 40", ("jane",)),  # a national number, spaced
    ("+33 6 11 22 33 44", ("both",)),  # international, spaced
    ("0033612345678", ("wa",)),  # 00 international prefix
    ("06.12.34", ("wa",)),  # the start of a national number
    ("06 1", ("jane", "both", "wa")),  # a short national start still reads as a prefix
    ("2345", ("wa",)),  # digits anywhere in the number
    ("0203", ("jane",)),  # a trunk "0" start, or digits anywhere: both are looked for
    ("30 40", ("jane",)),  # the end of a number, spaced
    ("ja", ("jane",)),  # two letters: a name prefix
    ("du", ("jean",)),  # two letters: a word of the name
    ("ze", ("ref",)),  # two letters: an email or name prefix
    ("j", ("jean", "jane")),  # one letter: names with a word that starts so
    ("ex", ()),  # two letters inside an email, not its start: not a match
    ("qx", ()),  # two letters no one has (read from the word index on SQLite)
    ("Ås", ("wa",)),  # two letters, non-ASCII, as written
    ("-1", ()),  # not a word: the row check alone decides
    ("nobody", ()),
    ('"quoted"', ()),  # FTS syntax in the text is searched for, not obeyed
    ("50%_", ()),  # LIKE wildcards are literal
]


@pytest.mark.parametrize(("typed", "expected"), SEARCH_CASES)
def test_text_search_by_name_email_or_phone(
    history: History, sample: dict[str, int], typed: str, expected: tuple[str, ...]
) -> None:
    assert history.numbers(_search(typed)) == _nums(sample, *expected)


PLANS = [
    PlanHints(),
    PlanHints(text_many=True),
    PlanHints(sent_many=True),
    PlanHints(text_many=True, sent_many=True),
]


def _bound_page(workspace_id: int, f: HistoryFilter, hints: PlanHints) -> Any:
    statement, params = page_query(workspace_id, f, hints=hints)
    return statement.params(params)


@pytest.mark.parametrize(
    "f",
    [
        _search("jane"),
        _search("@example"),
        _search("jean.dupont@example.fr"),
        _search("06 1"),
        _search("2345"),
        _search("ja"),
        _search("du"),
        _search("z"),
        HistoryFilter(sent_from=START + 2 * DAY),
        replace(_search("example"), sent_from=START, sent_to=START + 5 * DAY),
    ],
)
def test_every_plan_gives_the_same_rows(
    history: History, sample: dict[str, int], f: HistoryFilter
) -> None:
    # SQLite reads few matches by id and many newest first; the rows must not depend on it.
    with history.db.read() as session:
        hints = plan_hints(session, history.ws, f)
        probed = 3 if history.db.is_sqlite else PG_PROBE_MIN_TEXT  # shorter: the planner's call
        if f.text and len(f.text) >= probed:
            assert hints.text_ids is not None and not hints.text_many  # a handful: by id
        found = [r.number for r in session.exec(_bound_page(history.ws, f, hints))]
        assert found != []
        for other in PLANS:
            rows = session.exec(_bound_page(history.ws, f, other)).all()
            assert [r.number for r in rows] == found, other


def test_text_search_combines_with_filters(history: History, sample: dict[str, int]) -> None:
    f = replace(_search("example"), channel="email", created_by="U0BOB")
    assert history.numbers(f) == _nums(sample, "both")
    # Short text: its alternatives stay inside the other conditions.
    assert history.numbers(replace(_search("du"), created_by="U0BOB")) == []
    assert history.numbers(replace(_search("du"), created_by="U0ALICE")) == _nums(sample, "jean")


def test_a_phone_search_reads_the_workspace_region(history: History) -> None:
    us = history.add("Sam", phone="+1 415 555 2671", method="sms")
    assert history.numbers(_search("(415) 555-2671", "US")) == [us]
    assert history.numbers(_search("1 415 555", "US")) == [us]
    assert history.numbers(_search("(415) 555-2671", "FR")) == [us]  # digits still match


def test_deleted_requests_are_left_out_everywhere(history: History, sample: dict[str, int]) -> None:
    everything = history.numbers(HistoryFilter())
    assert sample["gone"] not in everything
    assert history.numbers(_search("gone")) == []
    assert history.numbers(_search("06 99 88 77 66")) == []
    with history.db.read() as session:
        assert counts(session, history.ws).queued == 1  # "wa"; the deleted one was queued too


def test_full_text_follows_updates_and_deletes(history: History, sample: dict[str, int]) -> None:
    with history.db.write() as session:
        row = session.exec(
            select(ReviewRequest).where(ReviewRequest.number == sample["jane"])
        ).one()
        row.customer_name = "Janet Renamed"
        row.phone = "+33611111111"
    assert history.numbers(_search("renamed")) == [sample["jane"]]
    assert history.numbers(_search("re")) == [sample["jane"]]  # the short-text word index too
    assert history.numbers(_search("do")) == []
    assert history.numbers(_search("jane doe")) == []
    assert history.numbers(_search("06 10 20 30 40")) == []
    assert history.numbers(_search("06 11 11 11 11")) == [sample["jane"]]
    # A status change does not touch the searched columns; the row is still found.
    with history.db.write() as session:
        row = session.exec(
            select(ReviewRequest).where(ReviewRequest.number == sample["jane"])
        ).one()
        row.status = "clicked"
    assert history.numbers(_search("renamed")) == [sample["jane"]]
    with history.db.write() as session:
        for key in ("jane", "jean"):
            session.delete(
                session.exec(select(ReviewRequest).where(ReviewRequest.number == sample[key])).one()
            )
    assert history.numbers(_search("renamed")) == []
    assert history.numbers(_search("dupont")) == []
    assert history.numbers(_search("marie")) == [sample["both"]]
    if history.db.is_sqlite:
        with history.db.read() as session:
            # The index holds the remaining rows only (a check FTS5 runs on its own data).
            session.execute(
                text(
                    "INSERT INTO review_request_fts(review_request_fts, rank) "
                    "VALUES ('integrity-check', 1)"
                )
            )
            rows = session.execute(text("SELECT count(*) FROM review_request")).scalar()
            for index in ("review_request_fts", "review_request_words"):
                session.execute(
                    text(f"INSERT INTO {index}({index}, rank) VALUES ('integrity-check', 1)")
                )
                assert session.execute(text(f"SELECT count(*) FROM {index}")).scalar() == rows


# --- keyset pages ------------------------------------------------------------------------------


@pytest.fixture
def tied(history: History) -> list[int]:
    """27 requests: 25 made in the same instant between two others; newest first."""
    numbers = [history.add("Early Bird", email="early@example.com")]
    history.clock.advance(timedelta(minutes=1))
    numbers += [history.add(f"Tie {i:02d}", email=f"tie{i}@example.com") for i in range(25)]
    history.clock.advance(timedelta(minutes=1))
    numbers.append(history.add("Late Bird", email="late@example.com"))
    return numbers[::-1]


def _walk(history: History, f: HistoryFilter, limit: int) -> Iterator[list[int]]:
    """Page forward to the end, then back to the start, yielding each page's numbers."""
    with history.db.read() as session:
        page = list_requests(session, history.ws, f, limit=limit)
        assert page.prev is None
        pages = [page]
        while page.next is not None:
            page = list_requests(session, history.ws, f, after=page.next, limit=limit)
            pages.append(page)
        for p in pages:
            yield [r.number for r in p.rows]
        while page.prev is not None:
            page = list_requests(session, history.ws, f, before=page.prev, limit=limit)
            yield [r.number for r in page.rows]


@pytest.mark.parametrize("limit", [1, 4, 7, 25, 26])
def test_keyset_pages_with_ties_lose_and_repeat_nothing(
    history: History, tied: list[int], limit: int
) -> None:
    pages = list(_walk(history, HistoryFilter(), limit))
    forward_count = -(-len(tied) // limit)
    forward, backward = pages[:forward_count], pages[forward_count:]
    assert [n for p in forward for n in p] == tied
    assert all(len(p) == limit for p in forward[:-1])
    # Back from the last page: the same pages in reverse, each newest first.
    assert backward == forward[:-1][::-1]


def test_keyset_pages_with_ties_and_a_text_filter(history: History, tied: list[int]) -> None:
    f = _search("tie")
    pages = list(_walk(history, f, 3))
    forward = pages[:9]
    assert [n for p in forward for n in p] == tied[1:-1]
    assert pages[9:] == forward[:-1][::-1]


def test_a_cursor_survives_its_row_being_deleted(history: History, tied: list[int]) -> None:
    with history.db.read() as session:
        first = list_requests(session, history.ws, HistoryFilter(), limit=5)
    assert first.next is not None
    with history.db.write() as session:
        row = session.exec(select(ReviewRequest).where(ReviewRequest.number == tied[4])).one()
        row.deleted_at = history.clock.now()
    with history.db.read() as session:
        second = list_requests(session, history.ws, HistoryFilter(), after=first.next, limit=5)
    assert [r.number for r in second.rows] == tied[5:10]


def test_cursors_round_trip() -> None:
    cursor = Cursor(START, 42)
    assert Cursor.decode(cursor.encode()) == cursor


# --- what people type --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("06 10 20 30 40", "FR", PhoneSearch("+33610203040", None, "0610203040")),
        ("06 10", "FR", PhoneSearch(None, "+33610", "0610")),
        ("+46 70 123", "SE", PhoneSearch(None, "+4670123", "4670123")),
        ("0046 70", "SE", PhoneSearch(None, "+4670", "004670")),
        ("1 415 555", "US", PhoneSearch(None, "+1415555", "1415555")),
        ("415 555", "US", PhoneSearch(None, None, "415555")),
        ("12", "FR", PhoneSearch()),
        ("jane 06", "FR", PhoneSearch()),
    ],
)
def test_phone_search_forms(typed: str, region: str, expected: PhoneSearch) -> None:
    assert phone_search(typed, region) == expected


def test_list_query_reads_sent_dates_and_phone_forms() -> None:
    f = parse_list_query(
        "sent_from:2026-11-01 sent_to:2026-11-30 06 10", timezone="UTC", user_id="U", region="FR"
    ).filter
    assert (f.sent_from, f.sent_to) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),  # the whole of the 30th
    )
    assert (f.text, f.phone, f.phone_prefix) == ("06 10", None, "+33610")


def test_list_query_refuses_sent_dates_backwards() -> None:
    with pytest.raises(InvalidInput, match="sent_from: must come before sent_to:"):
        parse_list_query("sent_from:2026-11-10 sent_to:2026-11-01", timezone="UTC", user_id="U")
    with pytest.raises(InvalidInput, match="not a date for sent_to"):
        parse_list_query("sent_to:yesterday", timezone="UTC", user_id="U")


# --- the migration -----------------------------------------------------------------------------


def test_models_match_the_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": include_name,
                "include_object": include_object_for(conn.dialect.name),
            },
        )
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def _search_objects(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    names = set(inspect(engine).get_table_names())
    names |= {i["name"] or "" for i in inspect(engine).get_indexes("review_request")}
    engine.dispose()
    return {n for n in names if "fts" in n or "trgm" in n or n == "ix_request_ws_sent"}


def test_the_search_migration_goes_down_and_up_again(database_url: str) -> None:
    assert "ix_request_ws_sent" in _search_objects(database_url)
    store_db.downgrade(database_url, "0001")
    assert _search_objects(database_url) == set()
    store_db.upgrade(database_url)
    db = Database(database_url)
    try:
        h = History(db, FrozenClock(START))
        number = h.add("Found Again", email="again@example.com")
        assert h.numbers(_search("again")) == [number]
    finally:
        db.dispose()


def test_cli_list_search_reads_a_phone_in_the_workspace_region(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path, region="US")

    def run(*args: str) -> str:
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        return result.output

    run("settings", "set", "region=FR", "send_window=always", "cooldown_days=0")
    run("send", "Jane Doe", "--phone", "+33610203040", "--queue-only")
    run("send", "Paul Roux", "--phone", "+33611223344", "--queue-only")
    found = run("list", "--search", "06 10 20 30 40")
    assert "Jane Doe" in found and "Paul Roux" not in found
    both = run("list", "--search", "06 1")
    assert "Jane Doe" in both and "Paul Roux" in both
