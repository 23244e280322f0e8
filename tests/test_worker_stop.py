"""Graceful stop: `reviewops worker` and `serve` on SIGTERM with a backlog, as real processes.

The child sends to the fake Twilio (answering 0.2 s late, like a far provider); the test
stops it while most of the backlog is still due. It must stop claiming, let the send in
flight finish, give back what it had claimed, and exit: each message reaches the fake once,
nothing is left `claimed` or `sending`, and the rest waits `queued` for the next worker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bench.speedkit import awake_phones
from bot.clock import FrozenClock
from bot.usecases.inputs import RequestCreate
from store import db as store_db
from store.db import Database
from store.models import Message
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE, Engine

SID = "AC" + "1" * 32
TOKEN = "stop-token"
BACKLOG = 200
EXIT_BOUND_SECONDS = 30.0  # the 20 s grace for in-flight sends, plus slack for a loaded machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _backlog(url: str) -> None:
    """Queue BACKLOG SMS requests, due a minute ago, with send_window=always."""
    db = Database(url)
    engine = Engine(db, FrozenClock(datetime.now(UTC) - timedelta(minutes=1)), region="US")
    for i in range(BACKLOG):
        data = RequestCreate(name=f"C{i}", phone=awake_phones(3000 + i, 1)[0], method="sms")
        engine.ops.create(engine.ws, data, ALICE)
    db.dispose()


def _statuses(url: str) -> Counter[str]:
    db = Database(url)
    with db.read() as session:
        found = Counter(m.status for m in session.exec(select(Message)).all())
    db.dispose()
    return found


@pytest.mark.parametrize(
    ("command", "concurrency"),
    # The default keeps many sends in flight; 1 is the one-after-the-other loop.
    [("worker", None), ("worker", "1"), ("serve", None)],
)
def test_sigterm_with_a_backlog_stops_soon_and_sends_nothing_twice(
    tmp_path: Path, command: str, concurrency: str | None
) -> None:
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    store_db.upgrade(url)
    _backlog(url)
    with tw.FakeTwilio(SID, TOKEN, latency=0.2) as fake:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_", "SMTP_"))
        } | {
            "DATABASE_URL": url,
            "PORT": str(_free_port()),
            "PUBLIC_URL": "http://127.0.0.1:9",
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM": "+15005550006",
            "TWILIO_API_URL": fake.url,
            # Paced, but fast enough that the worker holds claims when told to stop.
            "SENDER_RATES": "+15005550006=1000",
        }
        if concurrency is not None:
            env["DISPATCH_CONCURRENCY"] = concurrency
        log = tmp_path / "child.log"
        with log.open("wb") as out:
            child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bot", command],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while len(fake.messages) < 3:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{command} did not send:\n{log.read_text()}")
                time.sleep(0.1)  # polling a child process's progress, not a schedule
            child.send_signal(signal.SIGTERM)
            code = child.wait(timeout=EXIT_BOUND_SECONDS)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        sent_to = Counter(m["To"] for m in fake.messages)

    assert code == 0, log.read_text()
    assert "stopping: " in log.read_text()  # the claims it held went back to the queue
    assert "twilio.http_client" not in log.read_text()  # no SDK request dump per send
    assert sent_to and max(sent_to.values()) == 1  # never the same message twice
    statuses = _statuses(url)
    assert statuses["claimed"] == 0 and statuses["sending"] == 0, statuses
    assert statuses["sent"] == sum(sent_to.values())
    assert statuses["queued"] > 0  # it stopped with a backlog instead of draining it
    assert statuses["sent"] + statuses["queued"] == BACKLOG


def test_a_stopped_dispatcher_gives_its_claims_back_and_claims_no_more(
    db: Database, clock: FrozenClock
) -> None:
    engine = Engine(db, clock, region="US", cooldown_days=0)
    for i in range(3):
        data = RequestCreate(name=f"R{i}", phone=f"+33 6 15 55 {4000 + i:04d}", method="sms")
        engine.ops.create(engine.ws, data, ALICE)
    claims = engine.dispatcher.claim_due()
    engine.dispatcher.stop()
    engine.dispatcher.release(claims)

    assert engine.dispatcher.run_until_idle() == 0  # stopped: nothing claimed, nothing sent
    with db.read() as session:
        rows = session.exec(select(Message)).all()
    assert [(m.status, m.claim_token) for m in rows] == [("queued", None)] * 3
    assert all(m.due_at == clock.now() for m in rows)  # due as before, first in line again
