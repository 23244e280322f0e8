"""The `reviewops` CLI, run in-process with its real settings, store and console senders."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from store.db import Database
from store.models import ReviewRequest
from tests.helpers import CliInvoke, cli_invoker


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    invoke("settings", "set", "send_window=always", "business_name=Chez Jane")
    return invoke


def stored(database_url: str) -> list[ReviewRequest]:
    db = Database(database_url)
    try:
        with db.read() as session:
            return list(session.exec(select(ReviewRequest)).all())
    finally:
        db.dispose()


def test_send_prints_on_console_and_list_shows_sent(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    result = run("send", "Jane Doe", "--phone", "0610203040")
    assert result.exit_code == 0, result.output
    assert "--- console SMS to +33610203040" in result.output
    assert "Chez Jane" in result.output and "STOP" in result.output
    assert "#1 sent" in result.output
    listing = run("list")
    assert listing.exit_code == 0
    row = [line for line in listing.output.splitlines() if "#1" in line][0]
    assert "Jane Doe" in row and "sent" in row


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["send", "Jane", "--phone", "12"], "not a valid phone number"),
        (["send", "Jane", "--email", "nope@"], "not a valid email"),
        (["send", "Jane"], "mobile number or an email"),
        (["send", "Jane", "--phone", "0610203040", "--via", "pigeon"], "--via must be one of"),
        (["send", "Jane", "--phone", "0610203040", "--at", "2020-01-01T10:00"], "already passed"),
        (["send", "Jane", "--phone", "0610203040", "--in", "soon"], "not a delay"),
        (["pause", "abc"], "not a request number"),
        (["list", "--status", "lost"], "Unknown status"),
        (["settings", "set", "sms_sender=12345"], "digits only"),
        (["settings", "set", "colour=blue"], "Unknown setting"),
    ],
)
def test_bad_input_exits_2_and_stores_nothing(
    run, database_url: str, args: list[str], words: str
) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert stored(database_url) == []


def test_pause_resume_cancel_report_each_number(run) -> None:  # type: ignore[no-untyped-def]
    assert run("send", "A", "--phone", "0610203040", "--in", "1d").exit_code == 0
    assert run("send", "B", "--phone", "0610203041").exit_code == 0  # sent at once
    paused = run("pause", "#1", "2")
    assert "#1 paused" in paused.output
    assert "#2 not paused: #2 was already sent, so it can't be paused." in paused.output
    assert run("resume", "1").exit_code == 0
    cancel_all = run("cancel", "--all-queued", input="y\n")
    assert "Cancel 1 queued request(s)?" in cancel_all.output and "#1 canceled" in cancel_all.output
    show = run("show", "1")
    assert "canceled" in show.output and "paused" in show.output


def test_settings_show_lists_every_key(run) -> None:  # type: ignore[no-untyped-def]
    result = run("settings", "show")
    assert result.exit_code == 0
    for key in ("business_name", "send_window", "cooldown_days", "sms_price"):
        assert key in result.output
    assert "Chez Jane" in result.output
