"""Fault run (issue 16): real `reviewops worker` processes killed and frozen while they send.

For each mode: a fresh database (PostgreSQL, or one SQLite file shared by the workers), the
fake Twilio answering late (and hanging past the sender's timeout for a few recipients) and
the fake Slack, both as real servers; N queued requests (a CLI-made template cloned, each
request's thread in one of a few channels so Slack's per-channel pace is not the bottleneck);
K workers. While they send, at random: `kill -9` a worker (restarted at once), `SIGSTOP` one
for a few seconds then `SIGCONT`, or expire the leases while one is frozen (as if the freeze
outlasted them: the others' reapers give its claims back and another worker claims them);
now and then the fake Slack stores a post but answers 500. DISPATCH_CONCURRENCY, when set,
reaches the workers (their environment is this one's, minus provider and database settings).
The faults are bench/chaos_crew.py's. Then every chaos worker is killed and the drain runs:
the dead workers' leases are expired (moved back, as if minutes had passed: see
bench/chaos_crew.py), one clean worker runs until nothing is due and the Slack outbox is empty.

Then bench/chaos_checks.py: no message reached the fake Twilio twice, none is left queued,
claimed or sending, each `unknown` has its reason, each card was posted once and its thread
holds its replies once each, in order.

    .venv/bin/python -m bench.chaos --quick      # CI size: ~100 messages per mode, < 1 min
    .venv/bin/python -m bench.chaos              # full: 2,000 messages per mode (make chaos)
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import speedkit as kit
from bench.chaos_checks import Findings, check_all
from bench.chaos_crew import Crew, db_now, engine_for, expire_leases

# Recipients whose answer hangs (the fake stores the message, then holds the answer past the
# sender's timeout): mobiles where it is day, far from the clones' own numbers. Not Twilio's
# magic +1 500 number: quiet hours place it in every North American zone at once.
HANG_FIRST = 5_000_000  # apart from the clones (first_phone 0, up to 2,000 messages)
HANG_SECONDS = 12.0  # past the Twilio sender's 10 s timeout: an `unknown`


@dataclass
class Mode:
    kind: str  # sqlite or postgresql
    workers: int
    messages: int
    chaos_seconds: float  # how long faults are injected (less if all is sent before)
    latency: float = 0.3  # the fake Twilio's answer time, seconds
    hang_share: float = 0.02  # recipients whose answer hangs
    channels: int = 25
    settle_seconds: float = 0.0  # drain at least this long (65 s lets the reconcile job run)
    seed: int = 16
    pg_url: str = ""  # a database named chaos_*; it is emptied

    @property
    def label(self) -> str:
        return f"{self.kind} x{self.workers} workers, {self.messages} messages"


@dataclass
class Run:
    mode: Mode
    findings: Findings
    faults: dict[str, int]
    seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.findings.problems

    def report(self) -> str:
        f = self.findings.figures
        lines = [
            f"## {self.mode.label}, Twilio {self.mode.latency * 1000:.0f} ms, "
            f"{self.mode.hang_share:.0%} hanging",
            "faults: " + ", ".join(f"{k} {v}" for k, v in self.faults.items()),
            f"provider creates {f.get('provider_creates')}, duplicates {f.get('duplicates')}; "
            f"final statuses {f.get('statuses')}",
            f"in doubt: {f.get('unknown_events')} sends became unknown, "
            f"{f.get('unknown_resolved')} resolved by reconciliation; left unknown though the "
            f"provider has them {f.get('unknown_but_at_provider')}",
            f"slack outbox {f.get('slack_outbox')}, posts in the fake Slack {f.get('slack_posts')}",
            "time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()),
            *self.notes,
            "PASS" if not self.problems else "FAIL:",
            *(f"  - {p}" for p in self.problems),
        ]
        return "\n".join(lines)


CHAOS_PACE = 40  # messages/s for the one sender: pacing is part of what faults must not break


def run(mode: Mode) -> Run:
    """Set up, inject faults, drain and check one mode."""
    rng = random.Random(mode.seed)
    wd = kit.workdir(f"chaos-{mode.kind}")
    url = _database(mode, wd)
    channels = [f"C0CHAOS{i:02d}" for i in range(mode.channels)]
    started = time.monotonic()
    hang_to = kit.awake_phones(HANG_FIRST, round(mode.messages * mode.hang_share))
    with (
        kit.Fake(
            "twilio", latency=mode.latency, hang_seconds=HANG_SECONDS, hang_to=hang_to
        ) as twilio,
        kit.Fake("slack") as slack,
    ):
        env = kit.product_env(
            url,
            # Paced (shared by the workers through the database), fast enough for CI time.
            **kit.twilio_env(twilio.url, pace=str(CHAOS_PACE)),
            SLACK_BOT_TOKEN=kit.SLACK_TOKEN,
            SLACK_SIGNING_SECRET=kit.SLACK_SECRET,
            SLACK_API_URL=slack.url,
            PUBLIC_URL="http://127.0.0.1:9",
        )
        _seed(env, wd, url, mode, channels, rng, hang_to)
        crew = Crew(env, wd, rng, slack)
        times = {"setup": time.monotonic() - started}
        try:
            crew.start(mode.workers)
            _schedule(url, mode.chaos_seconds * 0.6, rng)
            t0 = time.monotonic()
            crew.havoc(url, mode.chaos_seconds)
            crew.kill_all()  # whatever they held is abandoned, as after a crash
            times["chaos"] = time.monotonic() - t0
            crew.faults["sent before the drain"] = len(twilio.call("messages"))
            t0 = time.monotonic()
            # One worker sends what is left alone: give it time in proportion (a loaded 2-core
            # machine drained 2,000 at 1.4 messages/s with Twilio answering in 0.3 s).
            notes = drain(env, wd, url, mode.settle_seconds, timeout=300 + mode.messages * 1.0)
            times["drain"] = time.monotonic() - t0
        finally:
            crew.kill_all()
        findings = check_all(url, twilio, slack, channels)
    notes += crew.notes
    times["total"] = time.monotonic() - started
    result = Run(mode, findings, crew.faults, times, notes + [f"database and logs: {wd}"])
    (wd / "report.txt").write_text(result.report() + "\n")
    return result


def _database(mode: Mode, wd: Path) -> str:
    if mode.kind == "sqlite":
        return f"sqlite:///{wd / 'chaos.db'}"
    url = make_url(mode.pg_url)
    name = url.database or ""
    if not name.startswith("chaos_"):
        raise ValueError(f"refusing to empty {name!r}: the chaos database's name starts chaos_")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}
        ).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url.render_as_string(hide_password=False)


def _seed(
    env: dict[str, str],
    wd: Path,
    url: str,
    mode: Mode,
    channels: list[str],
    rng: random.Random,
    hang_to: list[str],
) -> None:
    """Through the CLI: schema, settings, one template; then N clones, due now."""
    kit.seed_template(env, wd, "Chaos")
    # Cloned, then canceled: the clones are the run; the template's 30 days would not drain.
    first = kit.clone_queued(url, 1, mode.messages)
    kit.cli(env, "cancel", "1", workdir=wd)
    engine = engine_for(url)
    with engine.begin() as conn:
        for i, channel in enumerate(channels):
            conn.execute(
                text(
                    "UPDATE review_request SET origin_channel = :c "
                    "WHERE number >= :first AND (number - :first) % :n = :i"
                ),
                {"c": channel, "first": first, "n": len(channels), "i": i},
            )
        # Not due until the workers run: _schedule makes them due one after the other.
        conn.execute(
            text("UPDATE message SET due_at = :later WHERE status = 'queued'"),
            {"later": db_now(url) + timedelta(days=1)},
        )
        ids = [r[0] for r in conn.execute(text("SELECT id FROM message WHERE status = 'queued'"))]
        hangs = rng.sample(ids, min(len(hang_to), len(ids)))
        if hangs:
            conn.execute(
                text("UPDATE message SET to_address = :to WHERE id = :id"),
                [{"to": to, "id": i} for to, i in zip(hang_to, hangs, strict=False)],
            )
    engine.dispose()


def _schedule(url: str, spread: float, rng: random.Random) -> None:
    """Make the clones due one after the other over `spread` seconds, from now.

    Requests trickle in, so the workers claim small batches all along and the faults fall
    on sends in flight, not on one big batch claimed in the first second.
    """
    engine = engine_for(url)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM message WHERE status = 'queued'"))]
        rng.shuffle(ids)
        start = db_now(url)
        conn.execute(
            text("UPDATE message SET due_at = :due WHERE id = :id"),
            [
                {"due": start + timedelta(seconds=spread * k / len(ids)), "id": i}
                for k, i in enumerate(ids)
            ],
        )
    engine.dispose()


def drain(
    env: dict[str, str], wd: Path, url: str, settle: float, timeout: float = 300
) -> list[str]:
    """Expire the dead workers' leases; one worker runs until nothing is due or posting.

    With sends in doubt, the worker's first reconcile pass (run at its start) must end
    first: what it resolves is posted to Slack after the check would have seen it quiet.
    """
    expire_leases(url)
    in_doubt = kit.scalar(url, "SELECT count(*) FROM message WHERE status = 'unknown'")
    worker = kit.Product(["worker"], env, wd, "drain")
    notes = []
    try:
        started = time.monotonic()
        worker.wait_output("worker running", timeout=120)
        if in_doubt:
            # A pass with no candidate (each in doubt told to the team already) logs nothing.
            kit.wait_until(lambda: "reconcile:" in worker.output(), 60, step=0.2)

        calm_since: list[float] = []

        def quiet() -> bool:
            # Quiet for QUIET_FOR in a row: a job mid-transaction may yet add a Slack post.
            busy = kit.scalar(url, _BUSY_SQL, now=db_now(url))
            if busy or time.monotonic() - started < settle:
                calm_since.clear()
                return False
            calm_since[:] = calm_since or [time.monotonic()]
            return time.monotonic() - calm_since[0] >= QUIET_FOR

        if not kit.wait_until(quiet, timeout, step=0.5):
            notes.append(f"the drain did not finish in {timeout:.0f} s")
    finally:
        worker.stop()
    if worker.killed or worker.error_lines():
        notes.append(f"drain worker: {worker.error_lines()} ERROR lines, log {worker.log_path}")
    return notes


QUIET_FOR = 2.0  # seconds the drain must see nothing due and nothing to post, in a row

# Due messages not yet final, or Slack posts not yet made (their retries included).
_BUSY_SQL = (
    "SELECT (SELECT count(*) FROM message WHERE status IN ('claimed', 'sending') "
    "OR (status = 'queued' AND due_at <= :now)) "
    "+ (SELECT count(*) FROM slack_outbox WHERE status = 'pending')"
)


def modes(quick: bool, pg_url: str | None, dbs: list[str]) -> list[Mode]:
    n = 100 if quick else 2000
    chaos = 20.0 if quick else 240.0
    found = []
    if "postgresql" in dbs and pg_url:
        found.append(
            Mode("postgresql", 3, n, chaos, pg_url=pg_url, settle_seconds=0 if quick else 65)
        )
    if "sqlite" in dbs:
        found.append(Mode("sqlite", 2, n, chaos, settle_seconds=0 if quick else 65))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI size: 100 messages per mode")
    parser.add_argument("--db", default="postgresql,sqlite")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/chaos_pg",
        help="PostgreSQL database to use (emptied; its name must start with chaos_)",
    )  # fmt: skip
    parser.add_argument("--messages", type=int, help="messages per mode")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    server = make_url(args.pg_url).set(database="postgres").render_as_string(hide_password=False)
    print(kit.machine(server if "postgresql" in args.db else None))
    failed = False
    for mode in modes(args.quick, args.pg_url, args.db.split(",")):
        mode.seed = args.seed
        mode.messages = args.messages or mode.messages
        kit.log(f"chaos: {mode.label}")
        result = run(mode)
        print(result.report(), flush=True)
        failed = failed or bool(result.problems)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
