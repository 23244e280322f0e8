"""`reviewops export`, run in-process with its real settings and store."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.export import BOM, HEADERS
from store.db import Database
from tests.export_rows import add_requests
from tests.helpers import CliInvoke, cli_invoker

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    assert invoke("settings", "set", "timezone=Europe/Paris").exit_code == 0
    return invoke


@pytest.fixture
def seeded(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    db = Database(database_url)
    try:
        with db.read() as session:
            from sqlmodel import select

            from store.models import Workspace

            ws = session.exec(select(Workspace)).one().id
        assert ws is not None
        add_requests(
            db,
            ws,
            [
                {"customer_name": "Ana", "status": "failed", "channel": "sms"},
                {
                    "customer_name": "=Bob",
                    "channel": "email",
                    "email": "bob@example.com",
                    "phone": None,
                    "status": "sent",
                },  # fmt: skip
                {"customer_name": "Cleo", "status": "queued", "review_type": "product"},
            ],
            at=NOW,
        )
        add_requests(
            db, ws, [{"customer_name": "Dan", "status": "sent"}], at=NOW - timedelta(days=30)
        )
    finally:
        db.dispose()


def parse(text: str, separator: str = ",") -> list[list[str]]:
    return list(
        csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=separator)
    )


def test_export_to_a_file_with_semicolons_and_bom(run, seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "out.csv"
    result = run("export", "--out", str(target), "--separator", ";", "--bom")
    assert result.exit_code == 0, result.output
    raw = target.read_bytes()
    assert raw.startswith(BOM + b"Number;Customer name;")
    rows = parse(raw.decode("utf-8"), ";")
    assert tuple(rows[0]) == HEADERS
    assert [r[1] for r in rows[1:]] == ["Ana", "'=Bob", "Cleo", "Dan"]
    assert "4 requests exported to" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "out.csv.partial").exists()


def test_export_to_stdout_keeps_progress_off_it(run, seeded) -> None:  # type: ignore[no-untyped-def]
    result = run("export", "--out", "-", "--status", "sent", "--status", "failed")
    assert result.exit_code == 0, result.stderr
    rows = parse(result.stdout)
    assert tuple(rows[0]) == HEADERS
    assert [r[1] for r in rows[1:]] == ["Ana", "'=Bob", "Dan"]
    # Piped, no bar: only the summary, on stderr.
    assert result.stderr == "3 requests exported\n"
    assert "exported" not in result.stdout


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--via", "email"], ["'=Bob"]),
        (["--search", "cle"], ["Cleo"]),
        (["--type", "product"], ["Cleo"]),
        (["--from", (NOW - timedelta(days=1)).date().isoformat()], ["Ana", "'=Bob", "Cleo"]),
        (["--to", (NOW - timedelta(days=29)).date().isoformat()], ["Dan"]),
    ],
)
def test_export_filters(run, seeded, args: list[str], names: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = run("export", *args)
    assert result.exit_code == 0, result.stderr
    assert [r[1] for r in parse(result.stdout)[1:]] == names


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--separator", "|"], "'|' is not a separator"),
        (["--status", "lost"], "Unknown status 'lost'"),
        (["--via", "pigeon"], "--via must be sms, whatsapp or email"),
        (["--type", "movie"], "--type must be service or product"),
        (["--from", "2026-13-01"], "--from: '2026-13-01' is not a day"),
        (["--from", "2026-11-10", "--to", "2026-11-01"], "--to must not come before --from"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(  # type: ignore[no-untyped-def]
    run, seeded, tmp_path: Path, args: list[str], words: str
) -> None:
    target = tmp_path / "never.csv"
    result = run("export", "--out", str(target), *args)
    assert result.exit_code == 2
    assert words in result.stderr
    assert result.stdout == ""
    assert not target.exists() and not (tmp_path / "never.csv.partial").exists()


def test_an_out_that_is_a_directory_is_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("export", "--out", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.stderr
