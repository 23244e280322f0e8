"""CLI commands given a bad path, number, date or setting: a message and exit code 2, never a
traceback (issue 12)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.helpers import CliInvoke, cli_invoker


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    assert invoke("settings", "set", "send_window=always").exit_code == 0
    return invoke


def refused(result: Result, words: str) -> None:
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def unwritable_path(tmp_path: Path) -> Path:
    """A file path nothing may create, even as root; skip where there is none."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    candidates = [locked / "requests.csv", Path("/sys/reviewops-requests.csv")]
    for path in candidates:
        try:
            with open(f"{path}.probe", "wb"):
                pass
        except OSError:
            return path
        os.remove(f"{path}.probe")
    pytest.skip("no unwritable folder here")


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("missing/dir/x.csv", "--out: there is no folder"),
        (".", "is a directory; give a file name"),
        ("a-file.txt/x.csv", "--out: there is no folder"),
    ],
)
def test_export_to_a_path_it_cannot_write_says_so(
    run: CliInvoke, tmp_path: Path, where: str, words: str
) -> None:
    (tmp_path / "a-file.txt").write_text("not a folder")
    out = tmp_path / where
    refused(run("export", "--out", str(out)), words)


def test_export_to_an_unwritable_folder_says_so_and_leaves_nothing(
    run: CliInvoke, tmp_path: Path
) -> None:
    out = unwritable_path(tmp_path)
    refused(run("export", "--out", str(out)), f"--out: can't write '{out}'")
    assert not Path(f"{out}.partial").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["send", "Jane", "--phone", "0610203040", "--in", "99999999999999999999h"],
            "is not a delay",
        ),
        (
            ["settings", "set", "delay=99999999999999999999d"],
            "delay: '99999999999999999999d' is not a delay",
        ),
        (["export", "--from", "2026-13-01"], "--from: '2026-13-01' is not a day"),
        (["show", "99999999999999999999999"], "is not a request number"),
        (["show", "4242"], "There is no request #4242"),
        (["cancel", "1-2000000"], "is not a range I can use"),
        (["edit", "4242", "--name", "Jane"], "There is no request #4242"),
        (["list", "--workspace", "T-NOPE"], "No workspace T-NOPE"),
    ],
)
def test_bad_numbers_dates_and_ids_are_refused(run: CliInvoke, args: list[str], words: str) -> None:
    refused(run(*args), words)


def invoke_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Result:
    from bot.cli import cli

    monkeypatch.chdir(tmp_path)
    base = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SLACK_BOT_TOKEN": ""}
    return CliRunner().invoke(cli, ["list"], env=base | env)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DATABASE_URL": "posgres://ops:s3cret@db/reviews"}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "sqlite:////missing/dir/x.db"}, "cannot reach the database"),
        ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL must look like smtp://"),
        ({"PORT": "eighty"}, "PORT: Input should be a valid integer"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": "http://127.0.0.1:9/api/"},
            "Slack can't be reached",
        ),
    ],
)
def test_a_wrong_setting_is_said_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], words: str
) -> None:
    result = invoke_with(tmp_path, monkeypatch, **env)
    refused(result, words)
    assert "s3cret" not in result.output
