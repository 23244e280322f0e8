"""API keys made, listed and revoked by admins in Slack (`/reviews apikey`) and at the CLI
(`reviewops apikey`); the secret shown once works against the API until it is revoked."""

# ruff: noqa: F811  (pytest fixtures imported by name and used as arguments)

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.blocks.limits import assert_within_limits
from tests.helpers import CliInvoke, cli_invoker
from tests.slack_harness import ADMIN, USER, SlackHarness, slack_fixture, text_of  # noqa: F401

SECRET = re.compile(r"rvo_[A-Za-z0-9_-]{43}")


def ask(slack: SlackHarness, text: str, user: str = ADMIN) -> dict[str, Any]:
    assert slack.post_command(text, user=user).status_code == 200
    answer = slack.answer()
    assert answer["response_type"] == "ephemeral"
    assert_within_limits(answer, kind="message")
    return answer


def stats_with(slack: SlackHarness, secret: str) -> int:
    base = slack.url.removesuffix("/slack/events")
    headers = {"Authorization": f"Bearer {secret}"}
    return requests.get(f"{base}/api/v1/stats", headers=headers, timeout=10).status_code


def test_an_admin_creates_a_key_sees_its_secret_once_and_revokes_it(slack: SlackHarness) -> None:
    answer = ask(slack, "apikey create Zapier <b>")
    shown = text_of(answer)
    [secret] = SECRET.findall(shown)
    assert secret not in answer["text"]  # the fallback (notifications) never holds it
    assert "Zapier &lt;b&gt;" in shown  # a name is escaped for mrkdwn
    assert stats_with(slack, secret) == 200
    [key] = slack.ops.api_keys.list(slack.ws)
    assert key.created_by == ADMIN and key.name == "Zapier <b>"
    assert secret not in repr(key.model_dump())  # stored only as a hash

    listed = text_of(ask(slack, "apikey list"))
    assert f"*{key.id}* · Zapier &lt;b&gt; · `{key.prefix}…`" in listed
    assert secret not in listed and "active" in listed

    assert "revoked" in text_of(ask(slack, f"apikey revoke {key.id}"))
    assert stats_with(slack, secret) == 401
    assert "already revoked" in text_of(ask(slack, f"apikey revoke {key.id}"))
    assert "revoked" in text_of(ask(slack, "apikey list"))


def test_non_admins_are_refused_every_apikey_subcommand(slack: SlackHarness) -> None:
    for text in ("apikey create mine", "apikey list", "apikey revoke 1"):
        shown = text_of(ask(slack, text, user=USER))
        assert "admin" in shown.lower() and not SECRET.search(shown)
    assert slack.ops.api_keys.list(slack.ws) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("apikey create", "give the key a name"),
        ("apikey create " + "x" * 61, "at most 60 characters (got 61)"),
        ("apikey revoke three", "Say which key by its id"),
        ("apikey revoke 42", "There is no API key 42 here."),
        ("apikey rotate", "/reviews apikey create NAME"),
    ],
)
def test_a_wrong_apikey_command_is_named(slack: SlackHarness, text: str, words: str) -> None:
    assert words in text_of(ask(slack, text))
    assert slack.ops.api_keys.list(slack.ws) == []


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    assert invoke("settings", "set", "send_window=always").exit_code == 0
    return invoke


def test_the_cli_creates_lists_and_revokes_keys(run: CliInvoke, database_url: str) -> None:
    made = run("apikey", "create", "nightly export")
    assert made.exit_code == 0, made.output
    [secret] = SECRET.findall(made.stdout)
    listed = run("apikey", "list")
    assert listed.exit_code == 0
    assert "nightly export" in listed.output and secret[:10] + "…" in listed.output
    assert secret not in listed.output and "never" in listed.output and "active" in listed.output
    revoked = run("apikey", "revoke", "1")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in run("apikey", "list").output
    audit = run("audit", "--action", "apikey_revoke")
    assert audit.exit_code == 0 and "nightly export" in audit.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["apikey", "create", "  "], "give the key a name"),
        (["apikey", "create", "two\nlines"], "must be on one line"),
        (["apikey", "revoke", "7"], "There is no API key 7 here."),
    ],
)
def test_a_wrong_cli_apikey_command_exits_2(run: CliInvoke, args: list[str], words: str) -> None:
    result = run(*args)
    assert result.exit_code == 2 and words in result.output
    assert "rvo_" not in result.output


def test_the_cli_lists_no_keys_kindly(run: CliInvoke) -> None:
    result = run("apikey", "list")
    assert result.exit_code == 0 and "No API keys yet" in result.output
