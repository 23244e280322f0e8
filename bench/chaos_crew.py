"""The faults of the fault run (bench/chaos.py): workers killed, frozen, outlasted.

`Crew` starts the chaos workers and, at random, `kill -9`s one (restarted at once), freezes
one with SIGSTOP for a few seconds, or expires the leases while one is frozen; now and then
the fake Slack stores a post but answers 500.

Expiring a lease = moving `message.lease_until` (and a pending Slack outbox row's
`next_attempt_at`) back by LEASE_SHIFT: what waiting that long would do, without waiting
minutes and without a test-only clock in the product. Only ever done to rows whose holder
is frozen or dead, or as if it were (a worker paused past its lease is the fault).
"""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.exc import OperationalError

from bench import speedkit as kit

# Just past SENDING_LEASE (5 min, bot/usecases/dispatcher.py), the longest lease there is,
# and short of the reconcile job's margins, so it still finds a send in its window.
LEASE_SHIFT = timedelta(minutes=5, seconds=5)


def engine_for(url: str) -> Any:
    # Workers hold SQLite's write lock for a moment at a time: wait for it, don't fail.
    return create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


def db_now(url: str) -> Any:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if url.startswith("sqlite") else now


def expire_leases(url: str, *, slack: bool = True) -> int:
    """Move every lease back by LEASE_SHIFT, as if that long had passed; return how many.

    slack=True moves the Slack outbox's leases too: a live worker outlasts its lease, and
    the outbox must neither post twice nor split a thread (tests/test_chaos_outbox.py).
    """
    engine = engine_for(url)
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
        pending = (
            []
            if not slack
            else conn.execute(
                outbox.select()
                .with_only_columns(outbox.c.id, outbox.c.next_attempt_at)
                .where(outbox.c.status == "pending")
            ).all()
        )
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
        self.up: set[int] = set()  # pids that said "worker running"
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
        while time.monotonic() < deadline and waiting(url):
            time.sleep(self.rng.uniform(0.5, 2.5))
            self.thaw(due_only=True)
            # Faults fall on workers at work: one still starting up has nothing in flight.
            running = [w for w in self.live if w.proc.pid not in self.frozen and self.ready(w)]
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
            expire_leases(url, slack=True)
        except OperationalError as exc:  # a lock held too long: this fault is skipped
            self.notes.append(f"leases not expired once: {str(exc).splitlines()[0]}")
            return
        self.faults["leases expired"] += 1
        self.freeze(victim, self.rng.uniform(1.0, 4.0))
        others = [w for w in running if w is not victim]
        if others:
            self.kill(self.rng.choice(others))  # its restart reaps at once
            self.spawn()

    def ready(self, worker: kit.Product) -> bool:
        if worker.proc.pid not in self.up:
            if "worker running" not in worker.output():
                return False
            self.up.add(worker.proc.pid)
        return True

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


def waiting(url: str) -> int:
    """Messages not yet final: queued, or claimed or sending by a worker (alive or not)."""
    sql = "SELECT count(*) FROM message WHERE status IN ('queued', 'claimed', 'sending')"
    return int(kit.scalar(url, sql) or 0)
