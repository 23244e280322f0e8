"""Mailgun's event names become email reports in one adapter."""

from __future__ import annotations

from bot.delivery.mailgun_reports import email_report
from bot.domain.status import Status


def test_mailgun_events_in_our_words() -> None:
    assert email_report(" Delivered ", None, None, None).status is Status.DELIVERED
    assert email_report("complained", None, None, None).status is Status.COMPLAINED
    assert email_report("accepted", None, None, None).status is None
    bounced = email_report("failed", "permanent", "550", "No such mailbox")
    assert (bounced.status, bounced.code, bounced.reason) == (
        Status.FAILED,
        "550",
        "No such mailbox",
    )


def test_a_temporary_failure_is_a_delay_not_a_status() -> None:
    delayed = email_report("failed", "Temporary", "421", "Try later")
    assert (delayed.status, delayed.delayed) == (None, True)
