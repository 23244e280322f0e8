"""The events settings: the URL checked where it is typed (Slack form, `settings set`), the
signing secret write-only (never shown back, masked in the audit), the retry schedule."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.domain import events
from bot.domain.errors import InvalidInput
from store.models import Audit
from tests.helpers import CliInvoke, cli_invoker
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    SlackHarness,
    slack_fixture,
    typed,
)
from tests.test_settings_modal import open_form, submit

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
URL = "https://crm.example.com/hooks/reviews?tenant=acme"


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    return cli_invoker(database_url, monkeypatch, tmp_path)


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVENTS_ALLOW_PRIVATE off, as in production (conftest turns it on for local receivers)."""
    monkeypatch.setenv("EVENTS_ALLOW_PRIVATE", "0")  # for an app created after this
    events.allow_private_targets(False)


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://crm.example.com/hooks", "must start with https://"),
        ("http://localhost:5432/", "must start with https://"),
        ("ftp://crm.example.com/hooks", "is not a web address"),
        ("https://", "is not a web address"),
        ("https://[::1/", "is not a web address"),
        ("https://user:pw@crm.example.com/", "no user or password"),
        ("https://10.1.2.3/hooks", "private or reserved address"),
        ("https://169.254.169.254/latest/meta-data", "private or reserved address"),
        ("https://[fd00::1]/hooks", "private or reserved address"),
        ("https://[::1]:8000/hooks", "private or reserved address"),
        ("https://127.0.0.1/hooks", "private or reserved address"),
        ("https://[::ffff:127.0.0.1]/hooks", "private or reserved address"),
        ("https://[64:ff9b::a9fe:a9fe]/", "private or reserved address"),
        ("https://100.64.0.1/", "private or reserved address"),
        ("https://2130706433/", "written another way"),
        ("https://127.1/", "written another way"),
        ("https://0x7f000001/", "written another way"),
        ("https://0177.0.0.1/", "written another way"),
        ("https://localhost/hooks", "name of a private network"),
        ("https://api.localhost/hooks", "name of a private network"),
        ("https://metadata.google.internal/", "name of a private network"),
        ("https://printer.local/", "name of a private network"),
        ("https://metadata/", "name of a private network"),
        ("https://crm.example.com/" + "p" * 2000, "over 2000 characters"),
    ],
)
def test_an_events_url_that_is_not_a_public_https_address_is_refused(url: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        events.validate_events_url(url)


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("url", [URL, "https://8.8.8.8/h", "https://[2001:4860::8888]/h", ""])
def test_public_https_addresses_are_accepted(url: str) -> None:
    assert events.validate_events_url(f" {url} ") == url


@pytest.mark.parametrize(
    "url", ["http://localhost:8000/hooks", "http://127.0.0.1:9/x", "https://10.1.2.3/h"]
)
def test_this_machine_and_private_networks_only_with_events_allow_private(url: str) -> None:
    # conftest set EVENTS_ALLOW_PRIVATE=1 (development); numbers written another way never pass.
    assert events.validate_events_url(url) == url
    with pytest.raises(InvalidInput, match="written another way"):
        events.validate_events_url("https://127.1/")
    events.allow_private_targets(False)
    with pytest.raises(InvalidInput):
        events.validate_events_url(url)


@pytest.mark.parametrize("secret", ["whsec_short", "whsec_not base64!", "whsec_" + "A" * 100])
def test_a_secret_that_is_not_a_standard_webhooks_key_is_refused(secret: str) -> None:
    with pytest.raises(InvalidInput, match="24 to 64 random bytes"):
        events.validate_events_secret(secret)


def test_the_retry_schedule_doubles_with_jitter_up_to_six_hours() -> None:
    middle = [events.retry_delay(n, 0.5) for n in range(1, 6)]
    assert middle == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert events.retry_delay(40, 0.5) == timedelta(hours=6)
    assert events.retry_delay(1, 0.0) == timedelta(seconds=24)
    assert events.retry_delay(1, 0.999) < timedelta(seconds=36)
    assert not events.given_up(events.MAX_ATTEMPTS - 1, timedelta(days=2))
    assert events.given_up(events.MAX_ATTEMPTS, timedelta(0))
    assert events.given_up(1, events.MAX_AGE)


def test_cli_sets_events_refuses_a_bad_value_and_never_shows_the_secret(
    run: CliInvoke, database_url: str
) -> None:
    result = run("settings", "set", f"events_url={URL}")
    assert result.exit_code == 2
    assert "events_secret: Events are signed: set events_secret too" in result.output
    bad = run("settings", "set", f"events_url={URL}", "events_secret=whsec_tooshort")
    assert bad.exit_code == 2 and "whsec_tooshort" not in bad.output
    assert URL not in run("settings", "show").output

    ok = run("settings", "set", f"events_url={URL}", f"events_secret={SECRET}")
    assert ok.exit_code == 0, ok.output
    shown = run("settings", "show").output
    # The address may carry a token (a catch hook): shown and audited by its host only.
    assert "https://crm.example.com/…" in shown and URL not in shown and "tenant" not in shown
    assert SECRET not in shown and "set (hidden)" in shown
    audit = run("audit").output
    assert SECRET not in audit and "tenant=acme" not in audit

    off = run("settings", "set", "events_url=")
    assert off.exit_code == 0, off.output
    assert URL not in run("settings", "show").output


def test_the_form_sets_events_and_never_shows_the_secret_back(slack: SlackHarness) -> None:
    view = open_form(slack)
    answer = submit(slack, view, events_url=typed(URL), events_secret=typed(SECRET))
    assert answer is None
    policy = slack.ops.policy(slack.ws)
    assert (policy.events_url, policy.events_secret) == (URL, SECRET)

    again = open_form(slack)
    inputs = {b["block_id"]: b["element"] for b in again["blocks"] if b["type"] == "input"}
    assert inputs["events_url"]["initial_value"] == URL
    assert "initial_value" not in inputs["events_secret"]
    assert "Set:" in inputs["events_secret"]["placeholder"]["text"]
    # Saved again with the secret field left empty: the secret is kept.
    assert submit(slack, again, business_name=typed("Renamed")) is None
    assert slack.ops.policy(slack.ws).events_secret == SECRET

    assert slack.post_command("settings show", user=ADMIN).status_code == 200
    assert SECRET not in json.dumps(slack.fake.all_sent())
    assert SECRET[8:20] not in json.dumps(slack.fake.all_sent())
    with slack.app.db.read() as session:
        trail = json.dumps([a.detail for a in session.exec(select(Audit)).all()])
    assert "https://crm.example.com/\\u2026" in trail and URL not in trail  # by its host
    assert SECRET not in trail  # the audit keeps that a secret was set, not what


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    ("changes", "block", "words"),
    [
        ({"events_url": "http://crm.example.com/"}, "events_url", "https://"),
        ({"events_url": "https://192.168.1.9/"}, "events_url", "private or reserved"),
        ({"events_url": URL}, "events_secret", "set events_secret too"),
        ({"events_url": URL, "events_secret": "whsec_x"}, "events_secret", "random bytes"),
    ],
)
def test_the_form_refuses_bad_events_settings_on_their_field(
    slack: SlackHarness, changes: dict[str, str], block: str, words: str
) -> None:
    view = open_form(slack)
    before = slack.ops.policy(slack.ws)
    answer = submit(slack, view, **{k: typed(v) for k, v in changes.items()})
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [block]
    assert words in answer["errors"][block]
    assert slack.ops.policy(slack.ws) == before
