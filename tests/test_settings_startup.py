"""Environment values the process can't use stop it at start-up, with the variable and the
reason, instead of failing the first send (a wrong DEFAULT_REGION read every local number
wrong; a wrong SMTP_URL failed every email)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.delivery.smtp import SmtpSender
from bot.settings import Settings


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"DEFAULT_REGION": "XX"}, "DEFAULT_REGION: 'XX' is not a known country code"),
        ({"DEFAULT_REGION": ""}, "DEFAULT_REGION: '' is not a known country code"),
        ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL must look like smtp://"),
        ({"SMTP_URL": "smtp://"}, "SMTP_URL must look like smtp://"),
        ({"SMTP_URL": "smtp://mail.example.com:abc"}, "the port is not a number"),
        ({"SMTP_URL": "smtp://mail.example.com:70000"}, "the port is not a number"),
    ],
)
def test_an_unusable_value_is_refused_at_start_up(variables: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(_env_file=None, **variables)  # type: ignore[arg-type]


def test_usable_values_are_read_in_their_one_form() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, DEFAULT_REGION=" se ", SMTP_URL=" smtps://me:p%40ss@mail.example.com "
    )
    assert settings.default_region == "SE"
    sender = SmtpSender(str(settings.smtp_url), default_from="reviews@example.com")
    assert (sender.host, sender.port, sender.implicit_tls) == ("mail.example.com", 465, True)
    assert (sender.username, sender.password) == ("me", "p@ss")
    assert Settings(_env_file=None, SMTP_URL="").smtp_url is None  # type: ignore[call-arg]


def test_the_command_line_says_which_variable_is_wrong_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))} | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "SMTP_URL": "smtp://secret-user:secret-pass@mail.example.com:25x",
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
    assert "SMTP_URL must look like smtp://" in done.stderr
    assert "secret-pass" not in done.stderr  # the reason, never the value
    assert "Traceback" not in done.stderr
