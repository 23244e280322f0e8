"""History query benchmark: seed a large history, then time filtered pages and text searches.

    python -m bench.history --rows 1000000 --db sqlite
    python -m bench.history --rows 1000000 --db postgresql --url postgresql+psycopg://.../bench_history

Every timing is one call of store.queries.list_requests (SQL, fetch and ORM rows), the way the
Slack list and the CLI call it, on a fresh session, after warm-up runs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func
from sqlalchemy.engine import make_url
from sqlmodel import select

from bench import seed as seeding
from bot.domain.contacts import phone_search
from store.db import Database
from store.filter_sql import HistoryFilter
from store.models import ReviewRequest, Workspace
from store.queries import (
    Cursor,
    Page,
    counts,
    list_requests,
    page_query,
    plan_hints,
)

DEFAULT_SQLITE = Path(__file__).parent / "data"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_history"
PAGE = 10
REGION = "FR"


@dataclass
class Scenario:
    name: str
    kind: str  # page, search, next, deep, short-miss, count
    make: Callable[[random.Random], HistoryFilter]
    samples: list[float] = field(default_factory=list)
    rows_seen: list[int] = field(default_factory=list)


def _search(text_: str) -> HistoryFilter:
    phone = phone_search(text_, REGION)
    return HistoryFilter(text=text_, phone=phone.e164, phone_prefix=phone.prefix)


def _national(e164: str) -> str:
    digits = "0" + e164[3:]
    return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def scenarios(rows: int) -> list[Scenario]:
    now = seeding.NOW
    start = now - seeding.SPAN
    customers = seeding.customers_for(rows)
    sent_group = frozenset(
        {"sent", "delivered", "read", "opened", "clicked", "complained", "unsubscribed"}
    )

    def window(rnd: random.Random, days: int) -> tuple[Any, Any]:
        begin = start + timedelta(days=rnd.uniform(0, seeding.SPAN.days - days))
        return begin, begin + timedelta(days=days)

    def a_customer(rnd: random.Random, need: str) -> seeding.Customer:
        while True:
            c = seeding.customer(rnd.randint(1, customers))
            if getattr(c, need):
                return c

    def created(days: int) -> Callable[[random.Random], HistoryFilter]:
        def make(rnd: random.Random) -> HistoryFilter:
            a, b = window(rnd, days)
            return HistoryFilter(created_from=a, created_to=b)

        return make

    def sent(days: int) -> Callable[[random.Random], HistoryFilter]:
        def make(rnd: random.Random) -> HistoryFilter:
            a, b = window(rnd, days)
            return HistoryFilter(sent_from=a, sent_to=b)

        return make

    def combo(rnd: random.Random) -> HistoryFilter:
        a, b = window(rnd, 90)
        return HistoryFilter(
            statuses=frozenset({"clicked"}),
            created_by=rnd.choice(seeding.USERS[:5]),
            created_from=a,
            created_to=b,
        )

    page = [
        Scenario("no filter", "page", lambda r: HistoryFilter()),
        Scenario("status:failed", "page", lambda r: HistoryFilter(statuses=frozenset({"failed"}))),
        Scenario(
            "status: sent group (7 statuses)", "page", lambda r: HistoryFilter(statuses=sent_group)
        ),
        Scenario(
            "status:queued,paused",
            "page",
            lambda r: HistoryFilter(statuses=frozenset({"queued", "paused"})),
        ),
        Scenario(
            "status:unknown (rare)",
            "page",
            lambda r: HistoryFilter(statuses=frozenset({"unknown"})),
        ),
        Scenario("via:whatsapp", "page", lambda r: HistoryFilter(channel="whatsapp")),
        Scenario("via:email (email, sms+email)", "page", lambda r: HistoryFilter(channel="email")),
        Scenario(
            "by:<a sender>",
            "page",
            lambda r: HistoryFilter(created_by=r.choice(seeding.USERS)),
        ),
        Scenario("type:product", "page", lambda r: HistoryFilter(review_type="product")),
        Scenario(
            "ref:<existing>",
            "page",
            lambda r: HistoryFilter(reference=f"ORD-{r.randint(1, rows):07d}"),
        ),
        Scenario("created in 30 days", "page", created(30)),
        Scenario("sent in 7 days", "page", sent(7)),
        Scenario("sent in 1 day", "page", sent(1)),
        Scenario(
            "status:failed via:sms type:product",
            "page",
            lambda r: HistoryFilter(
                statuses=frozenset({"failed", "undelivered"}), channel="sms", review_type="product"
            ),
        ),
        Scenario("status:clicked by:<sender> created in 90 days", "page", combo),
    ]
    search = [
        Scenario("last name", "search", lambda r: _search(r.choice(seeding.LAST).lower())),
        Scenario(
            "full name", "search", lambda r: _search(a_customer(r, "name").name.split(" ", 1)[1])
        ),
        Scenario(
            "full name, first and last", "search", lambda r: _search(a_customer(r, "name").name)
        ),
        Scenario(
            "email prefix",
            "search",
            lambda r: _search((a_customer(r, "email").email or "").split("@")[0]),
        ),
        Scenario("whole email", "search", lambda r: _search(a_customer(r, "email").email or "")),
        Scenario(
            "phone, national format",
            "search",
            lambda r: _search(_national(a_customer(r, "phone").phone or "")),
        ),
        Scenario(
            "phone, last 6 digits",
            "search",
            lambda r: _search((a_customer(r, "phone").phone or "")[-6:]),
        ),
        Scenario(
            "phone, national prefix 06 12 3",
            "search",
            lambda r: _search(_national(a_customer(r, "phone").phone or "")[:8]),
        ),
        Scenario(
            "2 letters (LIKE prefix fallback)",
            "search",
            lambda r: _search(r.choice(seeding.FIRST)[:2].lower()),
        ),
        Scenario("2 letters matching nothing (worst case)", "short-miss", lambda r: _search("qx")),
        Scenario(
            "name + status:failed",
            "search",
            lambda r: HistoryFilter(
                text=r.choice(seeding.LAST).lower(), statuses=frozenset({"failed"})
            ),
        ),
    ]
    following = [
        Scenario("next page, no filter, page 2", "next", lambda r: HistoryFilter()),
        Scenario(
            "next page, status:failed, page 2",
            "next",
            lambda r: HistoryFilter(statuses=frozenset({"failed"})),
        ),
        Scenario(
            "next page, sent group, page 2", "next", lambda r: HistoryFilter(statuses=sent_group)
        ),
        Scenario(
            "next page, last name search, page 2",
            "next",
            lambda r: _search(r.choice(seeding.LAST).lower()),
        ),
        Scenario("deep page (cursor half-way down)", "deep", lambda r: HistoryFilter()),
        # Not a page: the Slack list also shows counts, which read every matching row.
        Scenario("counts(), whole history", "count", lambda r: HistoryFilter()),
        Scenario(
            "counts(), status:failed",
            "count",
            lambda r: HistoryFilter(statuses=frozenset({"failed", "undelivered"})),
        ),
    ]
    return page + search + following


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


class _Captured(Exception):
    def __init__(self, statement: str, params: Any) -> None:
        self.statement, self.params = statement, params


def _explain(db: Database, statement: Any) -> str:
    """Return the database's plan for a statement, with its parameters bound as in the app."""

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_args: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
            raise _Captured(sql, params)

    with db.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", capture)
        try:
            conn.execute(statement)
        except _Captured as captured:
            sql, params = captured.statement, captured.params
        event.remove(conn, "before_cursor_execute", capture)
        if db.is_sqlite:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(f"    {row[3]}" for row in plan)
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(f"    {row[0]}" for row in plan)


def measure(
    db: Database, workspace_id: int, rows: int, iterations: int, explain: bool
) -> list[Scenario]:
    rnd = random.Random(7)
    all_scenarios = scenarios(rows)
    deep_cursor = _deep_cursor(db, workspace_id, rows)
    for sc in all_scenarios:
        for i in range(iterations + 3):
            f = sc.make(rnd)
            after: Cursor | None = None
            if sc.kind == "next":
                with db.read() as session:
                    after = list_requests(session, workspace_id, f, limit=PAGE).next
                if after is None:
                    continue
            elif sc.kind == "deep":
                after = deep_cursor
            with db.read() as session:
                started = time.perf_counter()
                if sc.kind == "count":
                    counts(session, workspace_id, f)
                    page = Page(rows=[])
                else:
                    page = list_requests(session, workspace_id, f, after=after, limit=PAGE)
                elapsed = (time.perf_counter() - started) * 1000
            if i >= 3:  # warm-up first
                sc.samples.append(elapsed)
                sc.rows_seen.append(len(page.rows))
            if explain and i == 3 and sc.kind != "count":
                with db.read() as session:
                    hints = plan_hints(session, workspace_id, f)
                statement, params = page_query(
                    workspace_id, f, after=after, limit=PAGE, hints=hints
                )
                plan = _explain(db, statement.params(params))
                print(f"  plan [{sc.name}]:\n{plan}", flush=True)
        print(
            f"  {sc.name:<48} p50 {_percentile(sc.samples, 0.5):7.2f} ms  "
            f"p95 {_percentile(sc.samples, 0.95):7.2f} ms  rows/page {statistics.mean(sc.rows_seen or [0]):.1f}",
            flush=True,
        )
    return all_scenarios


def _deep_cursor(db: Database, workspace_id: int, rows: int) -> Cursor | None:
    with db.read() as session:
        row = session.exec(
            select(ReviewRequest.created_at, ReviewRequest.id)
            .where(ReviewRequest.workspace_id == workspace_id)
            .order_by(ReviewRequest.created_at.desc(), ReviewRequest.id.desc())  # type: ignore[union-attr,attr-defined]
            .offset(rows // 2)
            .limit(1)
        ).first()
    return Cursor(row[0], row[1]) if row else None


def _workspace(db: Database, rows: int) -> int | None:
    with db.read() as session:
        ws = session.exec(select(Workspace).where(Workspace.team_id == seeding.TEAM_ID)).first()
        if ws is None:
            return None
        count = session.exec(
            select(func.count())
            .select_from(ReviewRequest)
            .where(ReviewRequest.workspace_id == ws.id)
        ).one()
        return ws.id if count == rows else None


def _seed_child(url: str, rows: int) -> None:
    took = seeding.seed(url, rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seeded {rows:,} requests in {took:.0f} s (seeder peak RSS {peak:.0f} MB)", flush=True)


def machine(db: Database) -> str:
    ram = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) // 1024
    except OSError:
        pass
    cpu = "?"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    with db.engine.connect() as conn:
        version = (
            f"SQLite {sqlite3.sqlite_version}"
            if db.is_sqlite
            else str(conn.exec_driver_sql("SHOW server_version").scalar())
        )
    return (
        f"{platform.platform()}, {nproc} cores ({cpu}), {ram:,} MB RAM, Python "
        f"{platform.python_version()}, database {version}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.history", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="requests to seed (default 1,000,000)"
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--url",
        help=f"database URL (default: a file under {DEFAULT_SQLITE}/, or {DEFAULT_PG}); "
        "a PostgreSQL database is emptied before seeding",
    )
    parser.add_argument("--iterations", type=int, default=30, help="timed runs per scenario")
    parser.add_argument(
        "--reseed", action="store_true", help="seed again even if the data is there"
    )
    parser.add_argument("--explain", action="store_true", help="print each scenario's query plan")
    args = parser.parse_args(argv)

    if args.url:
        url = args.url
    elif args.db == "sqlite":
        DEFAULT_SQLITE.mkdir(exist_ok=True)
        url = f"sqlite:///{DEFAULT_SQLITE / f'history-{args.rows}.db'}"
    else:
        url = DEFAULT_PG
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if not is_sqlite and "bench" not in (parsed.database or ""):
        parser.error("the PostgreSQL database is emptied: its name must contain 'bench'")

    db = Database(url)
    ws = None if args.reseed else _workspace_if_migrated(db, args.rows)
    if ws is None:
        db.dispose()
        if is_sqlite:
            path = Path(parsed.database or "")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            seeding.reset_postgresql(url)
        print(f"seeding {args.rows:,} requests into {parsed.render_as_string()} ...", flush=True)
        # A child process seeds, so the peak RSS below is the query side's alone.
        child = multiprocessing.get_context("spawn").Process(
            target=_seed_child, args=(url, args.rows)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            print("seeding failed", file=sys.stderr)
            return 1
        db = Database(url)
        ws = _workspace(db, args.rows)
        assert ws is not None
    print(f"machine: {machine(db)}")
    print(f"{args.rows:,} requests, page of {PAGE}, {args.iterations} timed runs per scenario")
    results = measure(db, ws, args.rows, args.iterations, args.explain)
    for kind, label in (
        ("page", "filtered first page"),
        ("search", "text search"),
        ("next", "next page"),
        ("deep", "deep page"),
        ("short-miss", "short text, no match"),
        ("count", "counts"),
    ):
        samples = [s for sc in results if sc.kind == kind for s in sc.samples]
        if not samples:
            continue
        print(
            f"ALL {label:<22} p50 {_percentile(samples, 0.5):7.2f} ms  p95 {_percentile(samples, 0.95):7.2f} ms  "
            f"worst scenario p95 {max(_percentile(sc.samples, 0.95) for sc in results if sc.kind == kind):7.2f} ms"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the query process: {peak:.0f} MB")
    # The machine may be shared: say how busy it was while measuring.
    print(
        "load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    db.dispose()
    return 0


def _workspace_if_migrated(db: Database, rows: int) -> int | None:
    try:
        return _workspace(db, rows)
    except Exception:  # noqa: BLE001  (no schema yet: seed)
        return None


if __name__ == "__main__":
    raise SystemExit(main())
