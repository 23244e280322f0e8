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
Then every chaos worker is killed and the drain runs: the dead workers' leases are expired
the same way, one clean worker runs until nothing is due and the Slack outbox is empty.

Expiring a lease = moving `message.lease_until` (and a pending Slack outbox row's
`next_attempt_at`) back by LEASE_SHIFT, just past the longest lease: what waiting that long
would do, without waiting minutes and without a test-only clock in the product.

Then bench/chaos_checks.py: no message reached the fake Twilio twice, none is left queued,
claimed or sending, each `unknown` has its reason, each card was posted once and its thread
holds its replies once each, in order.

    .venv/bin/python -m bench.chaos --quick      # CI size: ~100 messages per mode, < 1 min
    .venv/bin/python -m bench.chaos              # full: 2,000 messages per mode (make chaos)
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bench import speedkit as kit
from bench.chaos_checks import Findings, check_all

# Just past SENDING_LEASE (5 min, bot/usecases/dispatcher.py), the longest lease there is,
# and short of the reconcile job's margins, so it still finds a send in its window.
LEASE_SHIFT = timedelta(minutes=5, seconds=5)
HANG_TO = "+15005550060"  # tests/fakes/twilio_api.py SCENARIO_HANG: stored, then no answer
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
        if self.findings.repeats:
            lines.append(
                f"known outbox bug (tests/test_chaos_outbox.py): "
                f"{len(self.findings.repeats)} Slack posts made twice in place:"
            )
            lines += [f"  - {r}" for r in self.findings.repeats[:10]]
        return "\n".join(lines)


def run(mode: Mode) -> Run:
    """Set up, inject faults, drain and check one mode."""
    rng = random.Random(mode.seed)
    wd = kit.workdir(f"chaos-{mode.kind}")
    url = _database(mode, wd)
    channels = [f"C0CHAOS{i:02d}" for i in range(mode.channels)]
    started = time.monotonic()
    with (
        kit.Fake("twilio", latency=mode.latency, hang_seconds=HANG_SECONDS) as twilio,
        kit.Fake("slack") as slack,
    ):
        env = kit.product_env(
            url,
            **kit.twilio_env(twilio.url),
            SLACK_BOT_TOKEN=kit.SLACK_TOKEN,
            SLACK_SIGNING_SECRET=kit.SLACK_SECRET,
            SLACK_API_URL=slack.url,
            PUBLIC_URL="http://127.0.0.1:9",
        )
        _seed(env, wd, url, mode, channels, rng)
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
            # One worker sends what is left alone: give it time in proportion.
            notes = drain(env, wd, url, mode.settle_seconds, timeout=120 + mode.messages * 0.6)
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
    env: dict[str, str], wd: Path, url: str, mode: Mode, channels: list[str], rng: random.Random
) -> None:
    """Through the CLI: schema, settings, one template; then N clones, due now."""
    kit.cli(env, "db", "upgrade", workdir=wd)
    kit.cli(
        env, "settings", "set", "send_window=always", "region=FR", "business_name=Chaos",
        "cooldown_days=0", workdir=wd,
    )  # fmt: skip
    kit.cli(env, "send", "Template", "--phone", "0610000000", "--in", "30d", "--queue-only",
            workdir=wd)  # fmt: skip
    # Cloned, then canceled: the clones are the run; the template's 30 days would not drain.
    first = kit.clone_queued(url, 1, mode.messages)
    kit.cli(env, "cancel", "1", workdir=wd)
    engine = _engine(url)
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
            {"later": _now(url) + timedelta(days=1)},
        )
        ids = [r[0] for r in conn.execute(text("SELECT id FROM message WHERE status = 'queued'"))]
        hangs = rng.sample(ids, round(len(ids) * mode.hang_share))
        if hangs:
            conn.execute(
                text("UPDATE message SET to_address = :to WHERE id = :id"),
                [{"to": HANG_TO, "id": i} for i in hangs],
            )
    engine.dispose()


def _schedule(url: str, spread: float, rng: random.Random) -> None:
    """Make the clones due one after the other over `spread` seconds, from now.

    Requests trickle in, so the workers claim small batches all along and the faults fall
    on sends in flight, not on one big batch claimed in the first second.
    """
    engine = _engine(url)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM message WHERE status = 'queued'"))]
        rng.shuffle(ids)
        start = _now(url)
        conn.execute(
            text("UPDATE message SET due_at = :due WHERE id = :id"),
            [
                {"due": start + timedelta(seconds=spread * k / len(ids)), "id": i}
                for k, i in enumerate(ids)
            ],
        )
    engine.dispose()


def expire_leases(url: str) -> int:
    """Move every lease back by LEASE_SHIFT, as if that long had passed; return how many."""
    engine = _engine(url)
    meta = MetaData()
    meta.reflect(engine, only=["message", "slack_outbox"])
    msg, outbox = meta.tables["message"], meta.tables["slack_outbox"]
    moved = 0
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        leased = conn.execute(
            msg.select()
            .with_only_columns(msg.c.id, msg.c.lease_until)
            .where(msg.c.status.in_(["claimed", "sending"]), msg.c.lease_until.is_not(None))
        ).all()
        for row_id, until in leased:
            conn.execute(
                msg.update().where(msg.c.id == row_id).values(lease_until=until - LEASE_SHIFT)
            )
        pending = conn.execute(
            outbox.select()
            .with_only_columns(outbox.c.id, outbox.c.next_attempt_at)
            .where(outbox.c.status == "pending")
        ).all()
        for row_id, at in pending:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == row_id)
                .values(next_attempt_at=at - LEASE_SHIFT)
            )
        moved = len(leased)
    engine.dispose()
    return moved


class Crew:
    """The chaos workers: started, killed and restarted, frozen and thawed."""

    def __init__(self, env: dict[str, str], wd: Path, rng: random.Random, slack: kit.Fake) -> None:
        self.env, self.wd, self.rng, self.slack = env, wd, rng, slack
        self.live: list[kit.Product] = []
        self.frozen: dict[int, float] = {}  # pid -> when to thaw
        self.faults = {
            "kill -9": 0, "SIGSTOP": 0, "leases expired": 0, "Slack 500 after storing": 0,
            "started": 0,
        }  # fmt: skip
        self.notes: list[str] = []

    def start(self, count: int) -> None:
        for _ in range(count):
            self.spawn()
        for worker in self.live:
            worker.wait_output("worker running", timeout=120)

    def spawn(self) -> None:
        n = self.faults["started"]
        self.live.append(kit.Product(["worker"], self.env, self.wd, f"worker{n}"))
        self.faults["started"] += 1

    def havoc(self, url: str, seconds: float) -> None:
        """Inject faults until `seconds` pass or nothing is left to send."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and _waiting(url):
            time.sleep(self.rng.uniform(0.5, 2.5))
            self.thaw(due_only=True)
            running = [w for w in self.live if w.proc.pid not in self.frozen]
            if not running:
                continue
            if self.rng.random() < 0.15:
                # Slack keeps the post but answers 500: the outbox must find it, not repost.
                self.slack.call(
                    "fail_next", "chat.postMessage", status=500, retry_after=None,
                    after_storing=True,
                )  # fmt: skip
                self.faults["Slack 500 after storing"] += 1
            victim = self.rng.choice(running)
            roll = self.rng.random()
            if roll < 0.3:
                self.kill(victim)
                self.spawn()
            elif roll < 0.85:
                self.freeze(victim, self.rng.uniform(1.0, 4.0))
            else:
                self.outlast_leases(url, victim, running)
        self.thaw(due_only=False)

    def outlast_leases(self, url: str, victim: kit.Product, running: list[kit.Product]) -> None:
        """Freeze `victim` past the leases: others reap and re-claim what it held.

        The frozen ones are woken first: a worker frozen inside a transaction holds its
        rows' locks, and moving the leases would wait for it forever. The victim is frozen
        right after, so it still wakes to find its leases gone.
        """
        self.thaw(due_only=False)
        try:
            expire_leases(url)
        except OperationalError as exc:  # a lock held too long: this fault is skipped
            self.notes.append(f"leases not expired once: {str(exc).splitlines()[0]}")
            return
        self.faults["leases expired"] += 1
        self.freeze(victim, self.rng.uniform(1.0, 4.0))
        others = [w for w in running if w is not victim]
        if others:
            self.kill(self.rng.choice(others))  # its restart reaps at once
            self.spawn()

    def kill(self, worker: kit.Product) -> None:
        if worker.proc.poll() is None:
            os.killpg(worker.proc.pid, signal.SIGKILL)
            self.faults["kill -9"] += 1
        worker.proc.wait(10)
        worker.stop()  # already dead: closes its log
        self.frozen.pop(worker.proc.pid, None)
        if worker in self.live:
            self.live.remove(worker)

    def freeze(self, worker: kit.Product, seconds: float) -> None:
        os.killpg(worker.proc.pid, signal.SIGSTOP)
        self.frozen[worker.proc.pid] = time.monotonic() + seconds
        self.faults["SIGSTOP"] += 1

    def thaw(self, *, due_only: bool) -> None:
        now = time.monotonic()
        for pid, at in list(self.frozen.items()):
            if not due_only or at <= now:
                os.killpg(pid, signal.SIGCONT)
                del self.frozen[pid]

    def kill_all(self) -> None:
        for worker in list(self.live):
            exited = worker.proc.poll()
            if exited is not None and exited != -signal.SIGKILL:
                self.notes.append(f"{worker.name} exited by itself ({exited}): {worker.log_path}")
            self.kill(worker)


def _waiting(url: str) -> int:
    """Messages not yet final: queued, or claimed or sending by a worker (alive or not)."""
    sql = "SELECT count(*) FROM message WHERE status IN ('queued', 'claimed', 'sending')"
    return int(kit.scalar(url, sql) or 0)


def drain(
    env: dict[str, str], wd: Path, url: str, settle: float, timeout: float = 300
) -> list[str]:
    """Expire the dead workers' leases; one worker runs until nothing is due or posting."""
    expire_leases(url)
    worker = kit.Product(["worker"], env, wd, "drain")
    notes = []
    try:
        started = time.monotonic()
        worker.wait_output("worker running", timeout=120)

        def quiet() -> bool:
            busy = kit.scalar(url, _BUSY_SQL, now=_now(url))
            return not busy and time.monotonic() - started >= settle

        if not kit.wait_until(quiet, timeout, step=0.5):
            notes.append(f"the drain did not finish in {timeout:.0f} s")
    finally:
        worker.stop()
    if worker.killed or worker.error_lines():
        notes.append(f"drain worker: {worker.error_lines()} ERROR lines, log {worker.log_path}")
    return notes


# Due messages not yet final, or Slack posts not yet made (their retries included).
_BUSY_SQL = (
    "SELECT (SELECT count(*) FROM message WHERE status IN ('claimed', 'sending') "
    "OR (status = 'queued' AND due_at <= :now)) "
    "+ (SELECT count(*) FROM slack_outbox WHERE status = 'pending')"
)


def _engine(url: str) -> Any:
    # Workers hold SQLite's write lock for a moment at a time: wait for it, don't fail.
    return create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


def _now(url: str) -> Any:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if url.startswith("sqlite") else now


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
