"""EMAIL_FROM as people write it, display names encoded, and no header built from a setting
can inject another one: through the CLI and a real SMTP server on loopback (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.delivery.base import Outcome, OutgoingMessage
from bot.delivery.smtp import SmtpSender
from store.db import Database
from store.models import ReviewRequest, Workspace
from tests.fakes.smtp_server import SmtpServer
from tests.helpers import CliInvoke, cli_invoker

FROM = "Acme Shop <reviews@acme-shop.test>"


@pytest.fixture
def run(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, smtp: SmtpServer
) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    monkeypatch.setenv("SMTP_URL", smtp.url)
    monkeypatch.setenv("EMAIL_FROM", FROM)
    assert invoke("settings", "set", "send_window=always").exit_code == 0
    return invoke


def send_email(run: CliInvoke) -> None:
    result = run("send", "Jane", "--email", "jane@example.com", "--via", "email")
    assert result.exit_code == 0, result.output
    assert "#1 sent" in result.output


def test_email_from_with_a_name_is_the_from_header(run: CliInvoke, smtp: SmtpServer) -> None:
    send_email(run)
    [received] = smtp.messages
    assert str(received.message["From"]) == "Acme Shop <reviews@acme-shop.test>"
    assert received.mail_from == "reviews@acme-shop.test"
    assert received.message["Message-ID"].endswith("@acme-shop.test>")


def test_a_bare_email_from_is_the_address_alone(
    run: CliInvoke, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_FROM", "reviews@acme-shop.test")
    send_email(run)
    assert str(smtp.messages[0].message["From"]) == "reviews@acme-shop.test"


def test_the_business_name_is_quoted_and_encoded(run: CliInvoke, smtp: SmtpServer) -> None:
    name = 'Café "Chez Jo", Paris'
    assert run("settings", "set", f"business_name={name}").exit_code == 0
    send_email(run)
    header = smtp.messages[0].message["From"]
    [mailbox] = header.addresses
    assert (mailbox.display_name, mailbox.addr_spec) == (name, "reviews@acme-shop.test")
    assert not header.defects


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Acme Shop <reviews@acme-shop.test", "EMAIL_FROM: 'Acme Shop <reviews@acme-shop.test'"),
        ("Acme Shop reviews@acme-shop.test", "is not an address like"),
        ("a@acme-shop.test, b@acme-shop.test", "is not an address like"),
        ("reviews@", "EMAIL_FROM: 'reviews@' is not an address"),
    ],
)
def test_an_invalid_email_from_stops_the_cli_with_its_reason(
    run: CliInvoke,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    words: str,
) -> None:
    monkeypatch.setenv("EMAIL_FROM", value)
    result = run("send", "Jane", "--email", "jane@example.com", "--via", "email")
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    db = Database(database_url)
    try:
        with db.read() as session:
            assert session.exec(select(ReviewRequest)).all() == []
    finally:
        db.dispose()


def test_a_line_break_stored_before_it_was_refused_no_longer_stops_email(
    run: CliInvoke, smtp: SmtpServer, database_url: str
) -> None:
    db = Database(database_url)
    try:
        with db.write() as session:
            workspace = session.exec(select(Workspace)).one()
            workspace.policy = {**workspace.policy, "business_name": "Acme\nBcc: x@example.net"}
            session.add(workspace)
    finally:
        db.dispose()
    send_email(run)
    [received] = smtp.messages
    assert received.rcpt_tos == ["jane@example.com"]
    assert received.message["Bcc"] is None
    assert received.message["From"].addresses[0].display_name == "Acme Bcc: x@example.net"


def test_no_header_from_a_setting_can_start_another_header(smtp: SmtpServer) -> None:
    sender = SmtpSender(smtp.url, default_from=FROM)
    result = sender.send(
        OutgoingMessage(
            message_id=1,
            channel="email",
            to="jane@example.com",
            subject="How was it?\r\nBcc: evil@example.net",
            body_text="Review us",
            sender_name="Acme\nBcc: evil@example.net",
        )
    )
    assert result.outcome is Outcome.SENT, result.reason
    [received] = smtp.messages
    assert received.rcpt_tos == ["jane@example.com"]
    assert received.message["Bcc"] is None
    assert received.message["Subject"] == "How was it? Bcc: evil@example.net"
    [mailbox] = received.message["From"].addresses
    assert (mailbox.display_name, mailbox.addr_spec) == (
        "Acme Bcc: evil@example.net",
        "reviews@acme-shop.test",
    )
