"""CSV import speed (issue 15): read, dry run and create N requests from one file, on SQLite.

A file of N customers (unique French mobiles, every third with an email, names with accents,
`;`-separated, cp1252 like a French spreadsheet's export) is imported into a fresh, migrated
SQLite database through the real use-cases: `read_csv`, `Importing.check` (the dry run),
then `Importing.confirm` (batches of 1,000 per transaction). Each phase is timed; `--profile`
prints the top of cProfile's cumulative listing for the whole run.

    .venv/bin/python -m bench.import_rows                # 100,000 rows
    .venv/bin/python -m bench.import_rows --rows 10000 --profile
    .venv/bin/python -m bench.import_rows --rows 2000 --baseline   # one create per row
    .venv/bin/python -m bench.import_rows --notify       # told as the app tells (Slack, events)

`--baseline` creates the same rows one request at a time through `ReviewOps.create` (the send
form's path: one transaction per request), the way an import would without batches.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from bot.clock import SystemClock
from bot.domain.import_file import read_csv
from bot.domain.policy import WorkspacePolicy
from bot.usecases.actors import Actor
from bot.usecases.events import EventNotifier
from bot.usecases.import_plan import ImportOptions
from bot.usecases.notifier import Notifiers
from bot.usecases.review_ops import ReviewOps
from handlers.outbox_writer import SlackNotifier
from store import db as store_db
from store.db import Database

ADMIN = Actor("U0ADMIN", "boss", admin=True)


def customer_file(rows: int) -> bytes:
    """A customer list of `rows` distinct people, as a French spreadsheet exports it."""
    lines = ["Nom;Téléphone;E-mail;Référence;Langue"]
    for i in range(rows):
        email = f"client{i}@exemple.fr" if i % 3 == 0 else ""
        lines.append(
            f"Client Éloïse {i};06 {i // 10000 % 100:02d} {i // 100 % 100:02d} {i % 100:02d} 00;{email};CMD-{i};fr"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def run(rows: int, *, notify: bool = False) -> dict[str, float]:
    """Import `rows` customers into a fresh SQLite database; return each phase's seconds.

    `notify`: tell the app's notifiers (Slack's outbox writer, outbound events) each change,
    as a running app does; otherwise nobody (the CLI without Slack).
    """
    with tempfile.TemporaryDirectory(prefix="reviewops-import-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        store_db.upgrade(url)
        db = Database(url)
        clock = SystemClock()
        notifier = Notifiers([SlackNotifier(clock), EventNotifier(clock)]) if notify else None
        ops = ReviewOps(db, clock=clock, notifier=notifier, default_region="FR")
        ws = ops.ensure_workspace("T0BENCH", "Bench").id
        assert ws is not None
        policy = WorkspacePolicy.model_validate(
            {**ops.policy(ws).model_dump(), "region": "FR", "send_window": "always"}
        )
        ops.update_policy(ws, policy, ADMIN)
        data = customer_file(rows)
        times: dict[str, float] = {}
        start = time.perf_counter()
        file = read_csv(data)
        times["read"] = time.perf_counter() - start
        mark = time.perf_counter()
        plan = ops.imports.check(ws, file, ImportOptions())
        times["dry run"] = time.perf_counter() - mark
        assert len(plan.ready) == rows, plan.skipped
        mark = time.perf_counter()
        done = ops.imports.confirm(ws, plan, ADMIN, file_name="bench.csv")
        times["create"] = time.perf_counter() - mark
        times["total"] = time.perf_counter() - start
        assert done.created == rows
        db.dispose()
        return times


def baseline(rows: int) -> dict[str, float]:
    """Create `rows` requests one by one through the send form's use-case; return the seconds."""
    from bot.usecases.import_plan import row_input

    with tempfile.TemporaryDirectory(prefix="reviewops-import-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        store_db.upgrade(url)
        db = Database(url)
        ops = ReviewOps(db, clock=SystemClock(), default_region="FR")
        ws = ops.ensure_workspace("T0BENCH", "Bench").id
        assert ws is not None
        policy = WorkspacePolicy.model_validate(
            {**ops.policy(ws).model_dump(), "region": "FR", "send_window": "always"}
        )
        ops.update_policy(ws, policy, ADMIN)
        start = time.perf_counter()
        file = read_csv(customer_file(rows))
        for row in file.rows:
            ops.create(ws, row_input(row, ImportOptions(), policy, SystemClock().now()), ADMIN)
        total = time.perf_counter() - start
        db.dispose()
        return {"total": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--baseline", action="store_true", help="one create per row")
    parser.add_argument(
        "--notify", action="store_true", help="tell the app's notifiers (Slack, events)"
    )
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    times = baseline(args.rows) if args.baseline else run(args.rows, notify=args.notify)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    for phase, seconds in times.items():
        print(f"{phase:>8}: {seconds:6.2f} s")
    print(f"{args.rows / times['total']:,.0f} rows/s")


if __name__ == "__main__":
    main()
