"""`reviewops stats` (text and --json) and `--json` on `list` and `show`, for scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import CliInvoke, cli_invoker


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    settings = ("send_window=always", "timezone=Europe/Paris", "cooldown_days=0")
    assert invoke("settings", "set", *settings).exit_code == 0
    return invoke


@pytest.fixture
def sent(run) -> CliInvoke:  # type: ignore[no-untyped-def]
    """Two SMS and one email sent through the console senders, one request waiting."""
    for args in (
        ["Ana", "--phone", "0610203040"],
        ["Bea", "--phone", "0610203041"],
        ["Cid", "--email", "cid@example.com"],
        ["Dan", "--phone", "0610203042", "--in", "1d"],
    ):
        assert run("send", *args).exit_code == 0
    return run  # type: ignore[no-any-return]


def document(result) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_stats_json_has_the_slack_stats_content_with_numbers_as_numbers(sent) -> None:  # type: ignore[no-untyped-def]
    doc = document(sent("stats", "--json"))
    assert doc["overall"] == {
        "sent": 3, "delivered": 0, "opened": 0, "clicked": 0, "failed": 0, "click_rate": 0.0,
    }  # fmt: skip
    assert doc["by_channel"]["sms"]["sent"] == 2 and doc["by_channel"]["email"]["sent"] == 1
    (sender,) = doc["by_sender"]
    assert sender["user_id"].startswith("cli:") and sender["sent"] == 3
    sms = doc["sms"]
    assert sms["sent"] == 2 and sms["segments"] >= 2 and sms["currency"] == "EUR"
    assert sms["price_per_segment"] == 0.045
    assert Decimal(str(sms["cost_estimate"])) == Decimal(sms["segments"]) * Decimal("0.045")
    assert doc["waiting"] == 1
    period = doc["period"]
    assert period["label"] == "Last 7 days" and period["end"] is None
    assert period["timezone"] == "Europe/Paris"
    assert datetime.fromisoformat(period["start"]).utcoffset() is not None


def test_stats_in_words(sent) -> None:  # type: ignore[no-untyped-def]
    result = sent("stats", "30d")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "Last 30 days: sent 3 · delivered 0 · opened 0 · clicked 0 · failed 0 · click rate 0%"
    )
    assert lines[1].startswith("Requests created since ") and "(Europe/Paris)" in lines[1]
    channels = lines[lines.index("By channel") + 1 : lines.index("By sender")]
    assert sorted(c.split(" · ")[0] for c in channels if c) == ["  Email: sent 1", "  SMS: sent 2"]
    assert any(line.startswith("SMS cost estimate: ") for line in lines)
    assert "Waiting to go out: 1" in lines


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["7x"], "I don't understand '7x'. Write `reviewops stats`"),
        (["0d"], "between 1 and"),
        (["from:2026-13-01"], "'2026-13-01' is not a date for from:"),
        (["from:2030-01-01"], "in the future"),
        (["from:2026-01-01", "to:9999-12-31"], "9999-12-31 is too far from today."),
        (["from:0900-01-01"], "at most 3660 days"),
    ],
)
def test_a_wrong_period_exits_2_saying_why(run, args: list[str], words: str) -> None:  # type: ignore[no-untyped-def]
    result = run("stats", *args)
    assert result.exit_code == 2
    assert words in result.stderr and "Traceback" not in result.output


def test_list_json_pages_with_a_cursor_and_takes_filters(sent) -> None:  # type: ignore[no-untyped-def]
    first = document(sent("list", "--json", "--limit", "2"))
    assert [r["number"] for r in first["requests"]] == [4, 3]
    assert first["requests"][1]["email"] == "cid@example.com"
    assert first["next_cursor"]
    rest = document(sent("list", "--json", "--limit", "2", "--cursor", first["next_cursor"]))
    assert [r["number"] for r in rest["requests"]] == [2, 1] and rest["next_cursor"] is None
    row = rest["requests"][1]
    assert row["status"] == "sent" and row["retries"] == 0
    assert datetime.fromisoformat(row["sent_at"]).utcoffset() is not None
    emails = document(sent("list", "--json", "--via", "email"))
    assert [r["customer_name"] for r in emails["requests"]] == ["Cid"]


def test_list_in_words_tells_how_to_go_on(sent) -> None:  # type: ignore[no-untyped-def]
    result = sent("list", "--limit", "3")
    assert result.exit_code == 0
    assert "#1" not in result.stdout
    waiting = [line for line in result.stdout.splitlines() if line.strip().startswith("#4 ")]
    assert " queued " in waiting[0] and " due 20" in waiting[0]  # when it goes, not "-"
    assert "More: reviewops list --cursor " in result.stderr


def test_show_json(sent) -> None:  # type: ignore[no-untyped-def]
    doc = document(sent("show", "#4", "--json"))
    assert doc["request"]["number"] == 4 and doc["request"]["status"] == "queued"
    (message,) = doc["messages"]
    assert message["channel"] == "sms" and message["status"] == "queued"
    assert message["to"] == "+33610203042" and message["sent_at"] is None
    assert datetime.fromisoformat(message["due_at"]) > datetime.fromisoformat(
        doc["request"]["created_at"]
    )
    assert [e["kind"] for e in doc["events"]][0] == "created"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["list", "--cursor", "not-a-cursor"], "--cursor: that is not a cursor"),
        (["list", "--to", "9999-12-31"], "9999-12-31 is too far from today."),
        (["export", "--from", "0001-01-01"], "0001-01-01 is too far from today."),
        (["show", "999", "--json"], "There is no request #999."),
    ],
)
def test_read_mistakes_exit_2_without_a_traceback(run, args: list[str], words: str) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and result.stdout == ""


@pytest.mark.parametrize("args", [["stats", "--json"], ["list", "--json"], ["show", "1", "--json"]])
def test_json_is_all_a_real_process_prints_on_stdout(
    sent, database_url: str, tmp_path: Path, args: list[str]
) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "DATABASE_URL": database_url, "SLACK_BOT_TOKEN": ""}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(  # noqa: S603  (our own CLI, fixed arguments)
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), dict)
