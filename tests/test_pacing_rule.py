"""The pacing rule: what a sender is, its rate by kind or SENDER_RATES, refused when unreadable."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.domain import pacing
from bot.domain.pacing import SenderSetup, parse_rates
from bot.settings import Settings
from tests.conftest import START

SECOND = timedelta(seconds=1)

# --- the rule ------------------------------------------------------------------------------


def test_defaults_by_kind_and_the_operators_rates() -> None:
    rates = parse_rates(" +1 (555) 123-4567 = 2 , MG0123abcd=30, smtp=5, toll_free=4, whatsapp=off")
    assert rates.rate_for("+15551234567") == 2  # its own rate, written as people write numbers
    assert rates.rate_for("+15559876543") == 1  # another US long code: the default
    assert rates.rate_for("+18005550100") == 4  # toll-free, changed as a kind
    assert rates.rate_for("MG0123abcd") == 30
    assert rates.rate_for("smtp:mail.example.com") == 5
    assert parse_rates("smtp:Mail.Example.com=2").rate_for("smtp:mail.example.com") == 2
    assert rates.rate_for("whatsapp:+14155238886") is None  # not paced
    assert parse_rates("").rate_for("12345") == 100  # short code
    assert parse_rates("").rate_for("+33612345678") == 10  # not US or Canada
    assert parse_rates("").rate_for("AcmeBikes") == 10  # alphanumeric sender id


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("+15551234567", "is not SENDER=RATE"),
        ("+15551234567=fast", "positive number"),
        ("smtp=0", "positive number"),
        ("smtp=-1", "positive number"),
        ("MG1=nan", "positive number"),
        ("smtp=5,smtp=6", "given twice"),
        ("=3", "is not SENDER=RATE"),
    ],
)
def test_a_bad_sender_rates_is_refused_at_start_up(text: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(_env_file=None, SENDER_RATES=text)  # type: ignore[call-arg]


def test_the_command_line_stops_on_a_bad_sender_rates(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))} | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "SENDER_RATES": "+15551234567=1,smtp=quick",
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "error: SENDER_RATES: the rate of smtp must be a positive number" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything was done


def test_the_sender_is_the_one_the_provider_sends_from() -> None:
    setup = SenderSetup(sms_from="+1 555 123 4567", whatsapp_from="+14155238886", smtp_host="mx")
    assert setup.key("sms", None) == "+15551234567"
    assert setup.key("sms", "AcmeBikes") == "AcmeBikes"  # the workspace's sender id
    assert setup.key("whatsapp", None) == "whatsapp:+14155238886"
    assert setup.key("email", None) == "smtp:mx"
    service = SenderSetup(sms_from="+15551234567", messaging_service_sid="MG42")
    assert service.key("sms", None) == "MG42"
    assert SenderSetup().key("sms", None) is None  # the console is not paced


def test_a_three_segment_sms_takes_three_slots_and_a_429_halves_then_recovers() -> None:
    assert pacing.cost("sms", "x" * 400) == 3
    assert pacing.cost("email", "x" * 400) == 1
    slot, following = pacing.reserve(START + SECOND, 1.0, 3, START)
    assert (slot, following) == (START + SECOND, START + 4 * SECOND)
    assert pacing.slowed(1.0, 1.0) == 0.5
    assert pacing.slowed(0.1, 1.0) == 0.1  # the floor
    quiet = pacing.QUIET_PERIOD
    assert pacing.recovered(0.25, 1.0, START, START + quiet / 2) == (0.25, START)
    assert pacing.recovered(0.25, 1.0, START, START + quiet) == (0.5, START + quiet)
    assert pacing.recovered(0.25, 1.0, START, START + 5 * quiet) == (1.0, None)
