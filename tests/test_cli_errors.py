"""User mistakes around the CLI's new verbs and its start: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.clock import SystemClock
from store.db import Database
from tests.helpers import CliInvoke, cli_invoker


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    return cli_invoker(database_url, monkeypatch, tmp_path)


def refused(result: Result, words: str) -> None:
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_several_workspaces_and_none_chosen(run: CliInvoke, database_url: str) -> None:
    from bot.usecases.review_ops import ReviewOps

    db = Database(database_url)
    try:
        ops = ReviewOps(db, clock=SystemClock())
        for team in ("T0ONE", "T0TWO"):
            ops.ensure_workspace(team, team)
    finally:
        db.dispose()
    for args in (["stats"], ["list", "--json"], ["settings", "show"]):
        refused(run(*args), "There are several workspaces: choose one with --workspace TEAM_ID.")
    chosen = run("stats", "--json", "--workspace", "T0TWO")
    assert chosen.exit_code == 0, chosen.output
    refused(run("stats", "--workspace", "T0THREE"), "No workspace T0THREE.")


@pytest.mark.parametrize("verb", [["stats"], ["list", "--json"], ["show", "1", "--json"]])
def test_a_database_that_does_not_answer(
    verb: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.cli import cli

    monkeypatch.chdir(tmp_path)
    # Port 1 on loopback: nothing listens there.
    env = {
        "DATABASE_URL": "postgresql+psycopg://ops:s3cret@127.0.0.1:1/reviews",
        "SLACK_BOT_TOKEN": "",
    }
    result = CliRunner().invoke(cli, verb, env=env)
    refused(result, "cannot reach the database of DATABASE_URL")
    assert "s3cret" not in result.output and "Traceback" not in result.output


def test_settings_set_without_pairs_says_what_is_missing(run: CliInvoke) -> None:
    result = run("settings", "set")
    assert result.exit_code == 2
    assert "Missing argument 'KEY=VALUE...'" in result.output


def test_unknown_numbers_exit_2_and_a_refusal_of_a_real_one_exits_1(run: CliInvoke) -> None:
    assert run("settings", "set", "send_window=always").exit_code == 0
    assert run("send", "Ana", "--phone", "0610203040").exit_code == 0  # sent at once
    unknown = run("pause", "998-999")
    assert unknown.exit_code == 2
    assert "#998 not paused: There is no request #998." in unknown.stderr
    assert "#999 not paused" in unknown.stderr
    already_sent = run("pause", "1", "999")
    assert already_sent.exit_code == 1
    assert "#1 not paused: #1 was already sent" in already_sent.stderr
