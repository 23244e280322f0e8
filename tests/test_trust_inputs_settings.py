"""Control characters in settings: refused where they are typed (the Slack settings form and
`reviewops settings set`), a line break allowed only where a text spans lines (issue 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CliInvoke, cli_invoker
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    SlackHarness,
    slack_fixture,
    typed,
)
from tests.test_settings_modal import unchanged


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    return cli_invoker(database_url, monkeypatch, tmp_path)


@pytest.mark.parametrize(
    ("pair", "words"),
    [
        ("business_name=Acme\nShop", "business_name: must be on one line"),
        ("business_name=Acme\u2028Shop", "business_name: must be on one line"),
        ("email_from_name=Acme\rShop", "email_from_name: must be on one line"),
        ("email_subject=How was it?\x0b", "email_subject: contains a control character (U+000B)"),
        ("sms_sender=Acme\x00", "sms_sender: contains a control character (U+0000)"),
        ("landing_url_service=https://acme.test/\x85r", "control character (U+0085)"),
        ("landing_url_service=https://acme.test/" + "r" * 2000, "at most 2,000 characters"),
        ("business_name=" + "B" * 81, "business_name: at most 80 characters (got 81)"),
        ("currency=EUR\x1b[31m", "currency: contains a control character (U+001B)"),
        ("timezone=" + "Europe/Paris" * 1000, "timezone: at most 64 characters (got 12,000)"),
        ("holidays=" + "FR" * 50, "holidays: at most 8 characters (got 100)"),
        ("language=de", "language: 'de' is not a language reviews are sent in: use en, fr or sv"),
    ],
)
def test_settings_set_refuses_control_characters_and_changes_nothing(
    run: CliInvoke, pair: str, words: str
) -> None:
    assert run("settings", "set", "business_name=Acme").exit_code == 0
    result = run("settings", "set", "timezone=Europe/Paris", pair)
    assert result.exit_code == 2, result.output
    assert words in result.output
    shown = run("settings", "show").output
    assert "Acme" in shown and "Europe/Paris" not in shown


def test_a_multi_line_text_keeps_its_line_breaks(run: CliInvoke) -> None:
    body = "Hello {{ name }},\n\nTell us how it went: {{ link }}\n\tThanks"
    result = run("settings", "set", f"email_body={body}", "sms_template=Hi {{ name }}\nThanks")
    assert result.exit_code == 0, result.output
    assert run("settings", "set", "email_body=Hi\x07").exit_code == 2


def open_form(slack: SlackHarness) -> dict[str, Any]:
    assert slack.post_command("settings", user=ADMIN).status_code == 200
    return slack.opened_view()


@pytest.mark.parametrize(
    ("block", "value", "words"),
    [
        ("business_name", "Acme\nShop", "must be on one line"),
        ("email_subject", "Hi\x00", "contains a control character (U+0000)"),
        ("email_from_name", "Acme\nBcc: x@example.net", "must be on one line"),
    ],
)
def test_the_settings_form_refuses_control_characters_on_their_field(
    slack: SlackHarness, block: str, value: str, words: str
) -> None:
    view = open_form(slack)
    before = slack.ops.policy(slack.ws)
    values = {**unchanged(view), block: typed(value)}
    answer = slack.post_view_submission(view, values, user=ADMIN).json()
    assert answer["response_action"] == "errors"
    assert words in answer["errors"][block]
    assert slack.ops.policy(slack.ws) == before
