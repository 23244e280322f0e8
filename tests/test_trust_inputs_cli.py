"""One input model from the CLI: each bad field refused with its reason, exit 2, nothing stored,
the same on SQLite and PostgreSQL (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from store.db import Database
from store.models import Contact, Message, Workspace
from tests.helpers import CliInvoke, cli_invoker
from tests.test_cli import stored


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    assert invoke("settings", "set", "send_window=always").exit_code == 0
    return invoke


def contacts(database_url: str) -> list[Contact]:
    db = Database(database_url)
    try:
        with db.read() as session:
            return list(session.exec(select(Contact)).all())
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["x" * 10_000], "name: at most 100 characters (got 10,000)"),
        (["Jane", "--language", "de"], "language: 'de' is not a language reviews are sent in"),
        (["Jane", "--ref", "R" * 500], "reference: at most 100 characters (got 500)"),
        (["Jane", "--ref", "A-1\nA-2"], "reference: must be on one line"),
        (["Ja\x07ne"], "name: contains a control character (U+0007)"),
        (["Jane", "--at", "9999-12-31T10:00"], "That time is too far ahead"),
    ],
)
def test_send_refuses_each_bad_field_with_its_reason(
    run: CliInvoke, database_url: str, extra: list[str], words: str
) -> None:
    name, *options = extra
    result = run("send", name, "--phone", "0610203040", *options)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert stored(database_url) == [] and contacts(database_url) == []


def test_a_blank_name_is_the_customer(run: CliInvoke, database_url: str) -> None:
    result = run("send", "   ", "--phone", "0610203040", "--queue-only", "--in", "1d")
    assert result.exit_code == 0, result.output
    assert [r.customer_name for r in stored(database_url)] == ["customer"]


def test_a_name_at_the_limit_is_stored_whole(run: CliInvoke, database_url: str) -> None:
    name = "J" * 100
    result = run("send", f"  {name}  ", "--phone", "0610203040", "--queue-only", "--in", "1d")
    assert result.exit_code == 0, result.output
    assert [r.customer_name for r in stored(database_url)] == [name]


def test_edit_refuses_what_send_refuses_and_changes_nothing(
    run: CliInvoke, database_url: str
) -> None:
    sent = run("send", "Jane", "--phone", "0610203040", "--ref", "A-1", "--in", "1d")
    assert sent.exit_code == 0, sent.output
    too_long = run("edit", "1", "--ref", "R" * 500)
    assert too_long.exit_code == 2, too_long.output
    assert "reference: at most 100 characters (got 500)" in too_long.output
    long_name = run("edit", "1", "--name", "x" * 101)
    assert long_name.exit_code == 2 and "name: at most 100 characters (got 101)" in long_name.output
    [request] = stored(database_url)
    assert (request.customer_name, request.reference) == ("Jane", "A-1")


def test_a_subject_rendered_longer_than_its_column_is_sent_cut(
    run: CliInvoke, database_url: str
) -> None:
    assert run("settings", "set", "business_name=Acme").exit_code == 0
    # Saved by an older version, before a subject had to fit with the longest names.
    subject = "{{ name }} " * 18
    db = Database(database_url)
    with db.write() as session:
        workspace = session.exec(select(Workspace)).one()
        workspace.policy = {**workspace.policy, "email_subject": subject}
        session.add(workspace)
    db.dispose()
    result = run("send", "N" * 100, "--email", "jane@example.com", "--via", "email")
    assert result.exit_code == 0, result.output
    assert "#1 sent" in result.output
    db = Database(database_url)
    try:
        with db.read() as session:
            [message] = session.exec(select(Message)).all()
    finally:
        db.dispose()
    assert message.subject is not None and len(message.subject) == 300
    assert message.subject.endswith("…")
