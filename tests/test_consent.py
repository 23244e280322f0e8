"""The consent record: how each request was asked for, and, where the workspace requires it,
the sender's word that the customer agreed to be contacted (Slack modal, quick form, CLI)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from bot.domain.errors import NotFound
from tests.helpers import CliInvoke, cli_invoker
from tests.slack_harness import (  # noqa: F401
    USER,
    SlackHarness,
    slack_fixture,
    text_of,
)
from tests.test_slack_interactions import open_send_modal, send_values

AGREED = {"type": "checkboxes", "selected_options": [{"value": "consent"}]}
NOT_AGREED = {"type": "checkboxes", "selected_options": []}


def ask(slack: SlackHarness, text: str) -> str:
    assert slack.post_command(text).status_code == 200
    return text_of(slack.answer())


def nothing_stored(slack: SlackHarness) -> bool:
    try:
        slack.ops.show(slack.ws, 1)
    except NotFound:
        return True
    return False


def test_the_quick_form_needs_consent_yes_when_required(slack: SlackHarness) -> None:
    slack.set_policy(require_consent=True, send_window="always")
    refused = ask(slack, "send Jane Doe 06 10 20 30 40")
    assert "Nothing was sent" in refused and "agreed to be contacted" in refused
    assert nothing_stored(slack)

    ask(slack, "send Jane Doe 06 10 20 30 40 consent:yes")
    request = slack.ops.show(slack.ws, 1).request
    assert (request.origin, request.consent_by) == ("slack", USER)
    assert request.consent_at == slack.clock.now()
    shown = ask(slack, "show #1")
    assert "slack" in shown and "confirmed" in shown and f"<@{USER}>" in shown


def test_a_bad_consent_word_is_named(slack: SlackHarness) -> None:
    assert "consent: takes yes or no" in ask(slack, "send Jane 06 10 20 30 40 consent:maybe")
    assert nothing_stored(slack)


def test_without_the_setting_nothing_is_asked_and_no_consent_is_recorded(
    slack: SlackHarness,
) -> None:
    ask(slack, "send Jane Doe 06 10 20 30 40")
    request = slack.ops.show(slack.ws, 1).request
    assert (request.origin, request.consent_at, request.consent_by) == ("slack", None, None)
    assert "not confirmed" in ask(slack, "show #1")
    view = open_send_modal(slack)
    assert "consent" not in [b.get("block_id") for b in view["blocks"]]


def test_the_send_modal_has_a_required_consent_box(slack: SlackHarness) -> None:
    slack.set_policy(require_consent=True)
    view = open_send_modal(slack)
    [box] = [b for b in view["blocks"] if b.get("block_id") == "consent"]
    assert box.get("optional", False) is False
    assert "The customer agreed to be contacted" in str(box)

    response = slack.post_view_submission(view, send_values(consent=NOT_AGREED))
    body: dict[str, Any] = response.json()
    assert body["response_action"] == "errors"
    assert "agreed to be contacted" in body["errors"]["consent"]
    assert nothing_stored(slack)

    view = open_send_modal(slack)
    response = slack.post_view_submission(view, send_values(consent=AGREED))
    assert response.status_code == 200 and response.text == ""
    request = slack.ops.show(slack.ws, 1).request
    assert request.consent_by == USER and request.origin == "slack"


def test_a_form_opened_before_consent_was_required_is_refused_on_a_field_it_has(
    slack: SlackHarness,
) -> None:
    view = open_send_modal(slack)
    slack.set_policy(require_consent=True)
    body = slack.post_view_submission(view, send_values()).json()
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == ["name"] and "agreed to be contacted" in body["errors"]["name"]
    assert nothing_stored(slack)


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    assert invoke("settings", "set", "send_window=always").exit_code == 0
    return invoke


def test_the_cli_needs_consent_when_required_and_shows_and_exports_it(
    run: CliInvoke, tmp_path: Path
) -> None:
    assert run("settings", "set", "require_consent=on").exit_code == 0
    refused = run("send", "Jane", "--phone", "0610203040")
    assert refused.exit_code == 2
    assert "--consent: Confirm that the customer agreed to be contacted" in refused.output
    assert "#1" not in run("list").output

    assert run("send", "Jane", "--phone", "0610203040", "--consent").exit_code == 0
    shown = run("show", "1").output
    assert "Origin     cli" in shown
    consent = [line for line in shown.splitlines() if line.startswith("Consent")][0]
    assert "by cli:" in consent

    out = tmp_path / "all.csv"
    assert run("export", "--out", str(out)).exit_code == 0
    header, row = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"))))[:2]
    assert header[-2:] == ["Origin", "Consent"]
    assert row[-2] == "cli" and row[-1] != ""


def test_require_consent_takes_on_or_off(run: CliInvoke) -> None:
    result = run("settings", "set", "require_consent=maybe")
    assert result.exit_code == 2 and "require_consent is on or off" in result.output
