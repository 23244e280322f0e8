"""The CLI's progress: a live bar (count, rate, time left) on a terminal, plain lines when piped."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli_progress import progress
from store.db import Database
from store.models import Workspace
from tests.export_rows import add_requests
from tests.helpers import cli_invoker

PLAIN = re.compile(r"^exported [\d,]+ of 20,000 requests \((\?|[\d,]+)/s(, about [\w ]+ left)?\)$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a real one does."""

    def isatty(self) -> bool:
        return True


def test_piped_it_prints_a_plain_line_every_tenth_and_leaves_the_end_to_the_job() -> None:
    out = io.StringIO()
    with progress(20_000, verb="exported", noun="requests", stream=out) as on_progress:
        for done in range(500, 20_001, 500):
            on_progress(done)
    lines = out.getvalue().splitlines()
    assert [line.split(" of ")[0] for line in lines] == [
        f"exported {n:,}" for n in range(2000, 20_000, 2000)
    ]
    assert all(PLAIN.match(line) for line in lines), lines


def test_the_callback_takes_a_total_learnt_on_the_way() -> None:
    out = io.StringIO()
    with progress(None, verb="imported", noun="rows", stream=out) as on_progress:
        on_progress(1000)  # no total yet: the count alone
        on_progress(1500, 20_000)
        on_progress(4000, 20_000)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("imported 1,000 rows (")
    assert lines[1].startswith("imported 4,000 of 20,000 rows (")


def test_on_a_terminal_it_draws_a_bar_with_count_rate_and_time_left() -> None:
    out = Terminal()
    with progress(200, verb="exported", noun="requests", label="exporting", stream=out) as tick:
        for done in range(10, 201, 10):
            tick(done)
    drawn = ANSI.sub("", out.getvalue())
    assert "exporting" in drawn and "200/200" in drawn
    assert re.search(r"(\?|[\d,]+) requests/s", drawn), drawn
    assert "left" in drawn and re.search(r"\d:\d\d:\d\d", drawn), drawn


def test_export_on_a_terminal_shows_the_bar_and_writes_the_file(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = cli_invoker(database_url, monkeypatch, tmp_path)
    assert run("settings", "set", "timezone=Europe/Paris").exit_code == 0
    db = Database(database_url)
    try:
        with db.read() as session:
            ws = session.exec(select(Workspace)).one().id
        assert ws is not None
        # 401 rows: reported every 2, so the last report is 400 and the end must fill the bar.
        add_requests(db, ws, [{} for _ in range(401)], at=datetime.now(UTC))
    finally:
        db.dispose()
    target = tmp_path / "out.csv"
    master, slave = pty.openpty()
    env = {**os.environ, "DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "", "COLUMNS": "120"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(  # noqa: S603  (our own CLI, fixed arguments)
        [sys.executable, "-m", "bot", "export", "--out", str(target)],
        stderr=slave,
        stdout=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    os.close(slave)
    drawn = ANSI.sub("", _read_all(master))
    assert done.returncode == 0, drawn
    assert "exporting" in drawn and "401/401" in drawn and "requests/s" in drawn
    assert "401 requests exported to" in drawn
    assert len(target.read_text().splitlines()) == 402


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed (Linux says EIO)
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")
