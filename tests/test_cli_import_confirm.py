"""`reviewops import` between its prompt and its end: checked again after the prompt, the
import's id said before the first batch, a failure partway named, `import cancel` ids read
by the one reader. The real CLI in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from bot.clock import SystemClock
from bot.usecases.actors import Actor
from bot.usecases.inputs import RequestCreate
from bot.usecases.review_ops import ReviewOps
from store.db import Database
from store.models import ReviewRequest
from tests.helpers import CliInvoke, cli_invoker
from tests.test_import import FRENCH


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    invoke("settings", "set", "send_window=always", "business_name=Chez Jane")
    (tmp_path / "clients.csv").write_bytes(FRENCH)
    return invoke


def requests_of(database_url: str) -> dict[int, str]:
    db = Database(database_url)
    try:
        with db.read() as session:
            return dict(session.exec(select(ReviewRequest.number, ReviewRequest.phone)).all())
    finally:
        db.dispose()


def test_the_file_is_checked_again_after_the_prompt(
    run: CliInvoke, database_url: str, tmp_path: Path
) -> None:
    """The real `reviewops` process: Bob is asked through the send form while the prompt waits."""
    env = {**os.environ, "DATABASE_URL": database_url, "SLACK_BOT_TOKEN": ""}
    env |= {"DEFAULT_REGION": "FR", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cli = subprocess.Popen(  # noqa: S603  (our own CLI, fixed arguments)
        [sys.executable, "-m", "bot", "import", "clients.csv", "--via", "sms"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env=env,
    )
    assert cli.stdin is not None and cli.stdout is not None
    shown = b""
    while b"Send 3 requests?" not in shown:  # input() flushes the prompt before it waits
        chunk = cli.stdout.read1(4096)
        assert chunk, shown.decode()
        shown += chunk
    db = Database(database_url)  # while the person thinks, a colleague asks Bob
    try:
        ops = ReviewOps(db, clock=SystemClock(), default_region="FR")
        ops.create(1, RequestCreate(name="Bob", phone="0611111111"), Actor("U0X", "x"))
    finally:
        db.dispose()
    out, _ = cli.communicate(b"y\n", timeout=120)
    output = (shown + out).decode()
    assert cli.returncode == 0, output
    assert "Checked again: 2 to send now (was 3)." in output
    assert "Import 1: 2 requests created (#2-#3)." in output
    assert sorted(requests_of(database_url).values()).count("+33611111111") == 1


def test_the_import_id_is_said_before_the_first_batch(run: CliInvoke) -> None:
    result = run("import", "clients.csv", "--yes", "--via", "sms")
    assert result.exit_code == 0, result.output
    out = result.output
    started = out.index("Import 1: cancel it with: reviewops import cancel 1")
    assert started < out.index("Import 1: 3 requests created (#1-#3).")


def test_a_failure_partway_names_the_import_and_its_cancel(
    run: CliInvoke, database_url: str
) -> None:
    db = Database(database_url)
    with db.write() as session:
        session.execute(text("ALTER TABLE event RENAME TO event_gone"))
    try:
        result = run("import", "clients.csv", "--yes", "--via", "sms")
    finally:
        with db.write() as session:
            session.execute(text("ALTER TABLE event_gone RENAME TO event"))
    assert result.exit_code == 1, result.output
    assert "Import 1: cancel it with: reviewops import cancel 1" in result.output
    assert (
        "error: Import 1: 0 requests created before it stopped. "
        "Cancel them with: reviewops import cancel 1"
    ) in result.output
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(ReviewRequest)).one() == 0
    db.dispose()


@pytest.mark.parametrize("word", ["99999999999999999999", "0", "#x", "1.5"])
def test_import_cancel_reads_the_id_like_the_list_or_exits_2(run: CliInvoke, word: str) -> None:
    result = run("import", "cancel", word)
    assert result.exit_code == 2, result.output
    assert f"'{word}' is not an import id (a number, like 3)." in result.output
