"""SmtpSender against a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.delivery.base import Outcome, OutgoingMessage
from bot.delivery.smtp import SmtpSender
from tests.fakes import smtp_server
from tests.fakes.smtp_server import SmtpServer


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


def outgoing(to: str = "jane@example.com", **extra: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "message_id": 7,
        "channel": "email",
        "to": to,
        "subject": "How was Acme?",
        # Longer than one SMTP line (1000 bytes) in all: line ends must be CRLF.
        "body_text": "Hi Jane, review us: https://r.test/r/abc\n" + "A fine line of text.\n" * 80,
        "body_html": "<p>Hi Jane, <a href='https://r.test/r/abc'>review us</a></p>",
        "sender_name": "Acme Shop",
        "from_address": "shop@acme.test",
        "reply_to": "help@acme.test",
        "unsubscribe_url": "https://r.test/u/abc",
    }
    values.update(extra)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def test_message_arrives_with_parts_headers_and_message_id(server: SmtpServer) -> None:
    result = SmtpSender(server.url, default_from="noreply@acme.test").send(outgoing())
    assert result.outcome is Outcome.SENT
    assert len(server.messages) == 1
    got = server.messages[0]
    assert got.mail_from == "shop@acme.test" and got.rcpt_tos == ["jane@example.com"]
    email = got.message
    assert email["From"] == "Acme Shop <shop@acme.test>"
    assert email["Reply-To"] == "help@acme.test"
    assert email["Subject"] == "How was Acme?"
    assert email["List-Unsubscribe"] == "<https://r.test/u/abc>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email["Message-ID"] == result.provider_id
    types = [p.get_content_type() for p in email.walk() if not p.is_multipart()]
    assert types == ["text/plain", "text/html"]


def test_defaults_fill_from_and_reply_to(server: SmtpServer) -> None:
    sender = SmtpSender(
        server.url, default_from="noreply@acme.test", default_reply_to="desk@acme.test"
    )
    sender.send(outgoing(from_address=None, reply_to=None, sender_name=None))
    email = server.messages[0].message
    assert email["From"] == "noreply@acme.test" and email["Reply-To"] == "desk@acme.test"


def test_permanent_refusal_fails_with_server_reason(server: SmtpServer) -> None:
    result = SmtpSender(server.url, default_from="a@acme.test").send(
        outgoing(to=smtp_server.REJECT)
    )
    assert result.outcome is Outcome.FAILED
    assert result.error_code == "550" and "User unknown" in (result.reason or "")
    assert server.messages == []


def test_temporary_refusal_is_retried(server: SmtpServer) -> None:
    result = SmtpSender(server.url, default_from="a@acme.test").send(outgoing(to=smtp_server.BUSY))
    assert result.outcome is Outcome.RETRY and result.error_code == "451"


def test_no_answer_after_data_is_unknown(server: SmtpServer) -> None:
    sender = SmtpSender(server.url, default_from="a@acme.test", timeout=0.5)
    result = sender.send(outgoing(to=smtp_server.DROP))
    assert result.outcome is Outcome.UNKNOWN
    assert len(server.messages) == 1  # the server did get it: resending would duplicate


def test_connection_refused_is_retried() -> None:
    result = SmtpSender("smtp://127.0.0.1:9", default_from="a@acme.test", timeout=1).send(
        outgoing()
    )
    assert result.outcome is Outcome.RETRY


def test_login_when_the_server_requires_it() -> None:
    with SmtpServer(auth=("mailer", "s3cr%t")) as server:
        url = server.url.replace("s3cr%t", "s3cr%25t")
        assert SmtpSender(url, default_from="a@acme.test").send(outgoing()).outcome is Outcome.SENT
    assert len(server.messages) == 1


def test_bad_url_is_refused() -> None:
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpSender("http://mail", default_from="a@acme.test")
