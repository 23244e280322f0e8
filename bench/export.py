"""Benchmark the CSV export: rows per second and peak RSS over a large seeded history.

    .venv/bin/python -m bench.export --url sqlite:////tmp/bench-export.db --rows 1000000
    .venv/bin/python -m bench.export --url postgresql+psycopg://postgres@127.0.0.1:5432/DB

Seeds the requests once (a database that already holds enough of them in workspace
T0BENCH is reused), then measures in a fresh child process so its peak RSS
(`ru_maxrss`) is the export's alone, not the seeder's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from bot.export import ExportOptions, write_csv
from bot.usecases.history import HistoryFilter
from store import db as store_db
from store.db import Database
from store.models import ReviewRequest, Workspace

TEAM_ID = "T0BENCH"
CHUNK = 10_000
FIRST_NAMES = ("Jane", "Bob", "Ana", "Lars", "Zoé", "Noah", "Mia", "Omar", "Léa", "Ivan")
LAST_NAMES = ("Doe", "Martin", "Svensson", "Dupont", "Nguyen", "García", "Smith", "Kowalski")
STATUSES = ("sent", "delivered", "opened", "clicked", "failed", "queued", "canceled", "read")


def _workspace(db: Database) -> int:
    with db.write() as session:
        found = session.execute(select(Workspace.id).where(Workspace.team_id == TEAM_ID)).first()
        if found is not None:
            return int(found[0])
        ws = Workspace(team_id=TEAM_ID, name="Bench", created_at=datetime.now(UTC))
        session.add(ws)
        session.flush()
        assert ws.id is not None
        return ws.id


def _existing(db: Database, ws: int) -> tuple[int, int]:
    with db.read() as session:
        count, top = session.execute(
            select(func.count(), func.max(ReviewRequest.number)).where(
                ReviewRequest.workspace_id == ws
            )
        ).one()
    return int(count or 0), int(top or 0)


def _row(ws: int, number: int, rng: random.Random, base: datetime) -> dict[str, Any]:
    created = base + timedelta(seconds=number * 3)
    status = rng.choice(STATUSES)
    sent = created + timedelta(minutes=5) if status not in ("queued", "canceled") else None
    by_email = number % 3 == 0
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if number % 997 == 0:
        name = '=HYPERLINK("http://evil.example","click")'  # injection stays in the sample
    return {
        "workspace_id": ws,
        "number": number,
        "customer_name": name,
        "phone": None if by_email else f"+336{number:08d}",
        "email": f"customer{number}@example.com" if by_email else None,
        "language": "en",
        "method": "email" if by_email else "sms",
        "channel": "email" if by_email else "sms",
        "review_type": "product" if number % 4 == 0 else "service",
        "reference": f"ORD-{number}" if number % 2 else None,
        "status": status,
        "created_by": f"U0SEND{number % 7}",
        "created_by_name": f"sender{number % 7}",
        "created_at": created,
        "updated_at": created,
        "scheduled_at": created,
        "sent_at": sent,
        "delivered_at": sent + timedelta(minutes=1)
        if sent and status in ("delivered", "opened", "clicked", "read")
        else None,
        "opened_at": sent + timedelta(hours=1)
        if sent and status in ("opened", "clicked")
        else None,
        "clicked_at": sent + timedelta(hours=2) if sent and status == "clicked" else None,
        "retries": number % 3,
        "last_error": "30003 Unreachable destination handset" if status == "failed" else None,
    }


def seed(url: str, rows: int) -> int:
    """Insert requests until workspace T0BENCH holds `rows` of them; return its id."""
    store_db.upgrade(url)
    db = Database(url)
    try:
        ws = _workspace(db)
        have, top = _existing(db, ws)
        if have >= rows:
            print(f"reusing {have} seeded requests", file=sys.stderr)
            return ws
        rng = random.Random(42)  # noqa: S311 (sample data, not secrets)
        base = datetime(2024, 1, 1, tzinfo=UTC)
        started = time.perf_counter()
        number = top
        while have < rows:
            n = min(CHUNK, rows - have)
            batch = [_row(ws, number + i + 1, rng, base) for i in range(n)]
            with db.write() as session:
                session.execute(insert(ReviewRequest), batch)
            number += n
            have += n
            print(f"\rseeded {have}/{rows}", end="", file=sys.stderr)
        with db.write() as session:
            session.execute(
                Workspace.__table__.update()  # type: ignore[attr-defined]
                .where(Workspace.__table__.c.id == ws)  # type: ignore[attr-defined]
                .values(next_number=number + 1)
            )
        print(f"\nseeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return ws
    finally:
        _analyze(db)
        db.dispose()


def _analyze(db: Database) -> None:
    # Fresh planner statistics, as autovacuum would have by then: without them PostgreSQL
    # guesses a hundred rows and sorts every batch instead of walking the index.
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE review_request" if not db.is_sqlite else "ANALYZE")
        conn.commit()


def measure(url: str, ws: int) -> dict[str, Any]:
    """Export every request of the workspace to a temporary file; time it and read peak RSS."""
    db = Database(url)
    try:
        with tempfile.TemporaryFile() as out:
            started, cpu_started = time.perf_counter(), time.process_time()
            rows = write_csv(
                db,
                ws,
                HistoryFilter(),
                out,
                options=ExportOptions(separator=";", bom=True, timezone="Europe/Paris"),
            )
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            size = out.tell()
    finally:
        db.dispose()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {
        "dialect": url.split(":", 1)[0],
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        # The machine is shared: CPU time says what the export costs without the waiting.
        "cpu_seconds": round(cpu, 2),
        "rows_per_cpu_second": round(rows / cpu),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "csv_mb": round(size / 1024 / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the bench database")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--measure-workspace", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_workspace is not None:
        print(json.dumps(measure(args.url, args.measure_workspace)))
        return
    ws = seed(args.url, args.rows)
    child = subprocess.run(
        [sys.executable, "-m", "bench.export", "--url", args.url, "--measure-workspace", str(ws)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    print(child.stdout.strip())


if __name__ == "__main__":
    main()
