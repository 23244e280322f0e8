"""Twilio's words become domain reports in one adapter: statuses, error codes, keywords."""

from __future__ import annotations

import pytest

from bot.delivery.twilio_reports import bare_phone, inbound_text, status_report
from bot.domain.reports import Intent
from bot.domain.status import Status


def test_a_stop_error_code_on_a_failure_is_an_opt_out() -> None:
    report = status_report("undelivered", " 21610 ")
    assert report is not None
    assert (report.status, report.recipient_opted_out) == (Status.UNSUBSCRIBED, True)
    assert report.error_code == "21610"
    assert report.reason == "The customer replied STOP to this number"


def test_other_codes_and_early_stages() -> None:
    failed = status_report("Failed", "30003")
    assert failed is not None
    assert (failed.status, failed.recipient_opted_out) == (Status.FAILED, False)
    assert failed.reason == "Unreachable destination handset"
    assert status_report("queued", None) is None
    delivered = status_report("delivered", "21610")  # a code on a success opts nobody out
    assert delivered is not None and delivered.status is Status.DELIVERED


@pytest.mark.parametrize(
    ("body", "intent", "keyword"),
    [
        (" stop. ", Intent.OPT_OUT, "STOP"),
        ("Unsubscribe!", Intent.OPT_OUT, "UNSUBSCRIBE"),
        ("unstop", Intent.OPT_IN, "UNSTOP"),
        ("info", Intent.HELP, "INFO"),
        ("Stop sending me these", Intent.REPLY, "STOP SENDING ME THESE"),
    ],
)
def test_inbound_text_says_what_the_customer_asks(body: str, intent: Intent, keyword: str) -> None:
    text = inbound_text(body)
    assert (text.intent, text.keyword, text.text) == (intent, keyword, body.strip())


def test_bare_phone_drops_the_whatsapp_prefix() -> None:
    assert bare_phone(" whatsapp:+14155550100 ") == "+14155550100"
