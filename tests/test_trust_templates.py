"""A workspace's own texts are plain text and placeholders: anything else is refused where it is
typed (the Slack settings form, `reviewops settings set`) with the offending part named, the
longest realistic values must fit the channel, and a text stored under older rules fails its
message with the reason instead of being rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import templating
from bot.domain.errors import InvalidInput
from bot.domain.policy import WorkspacePolicy
from bot.usecases.actors import Actor
from tests.helpers import CliInvoke, cli_invoker
from tests.slack_harness import ADMIN, SlackHarness, slack_fixture, typed  # noqa: F401
from tests.test_settings_modal import open_form, submit

MULTIPLY = "{{ name * 300000000 }}"
LOOP = "{% for a in range(3000) %}{% for b in range(3000) %}x{% endfor %}{% endfor %}"
FILTER = "Hi {{ name | upper }}"
DUNDER = "{{ name.__class__ }}"

# (setting, value, words of the refusal)
BAD = [
    ("sms_template", MULTIPLY, "`{{ name * 300000000 }}` is an expression, not a placeholder"),
    ("email_body", LOOP, "`{% for a in range(3000) %}` is a tag"),
    ("sms_template", FILTER, "`{{ name | upper }}`: the upper filter is not allowed"),
    ("email_subject", DUNDER, "`{{ name.__class__ }}`: attribute access is not allowed"),
    ("email_body", "Hi {{ name", "`{{ name` is not closed"),
    ("email_body", "Hi {# note #}", "is a comment"),
    ("sms_template", "Hi {{ link }}", "Unknown placeholder {{ link }}"),
    ("email_subject", "{{name}}" * 4, "this text is 400 characters; at most 300"),
    ("email_body", "{{link}}" * 600, "this text is 72000 characters; at most 50000"),
    ("sms_template", "{{name}}😀" * 12, "this SMS takes 21 segments; at most 10"),
]


@pytest.fixture(name="run")
def run_fixture(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    assert invoke("settings", "set", "business_name=Chez Jane").exit_code == 0
    return invoke


@pytest.mark.parametrize(("key", "value", "words"), BAD)
def test_the_cli_refuses_each_bad_text_naming_its_part(
    run: CliInvoke, key: str, value: str, words: str
) -> None:
    before = run("settings", "show").output
    result = run("settings", "set", f"{key}={value}")
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert run("settings", "show").output == before  # nothing changed


@pytest.mark.parametrize(("key", "value", "words"), BAD)
def test_the_settings_form_refuses_each_bad_text_on_its_field(
    slack: SlackHarness, key: str, value: str, words: str
) -> None:
    before = slack.ops.policy(slack.ws)
    answer = submit(slack, open_form(slack), **{key: typed(value)})
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [key]
    assert words in answer["errors"][key]
    assert slack.ops.policy(slack.ws) == before


def test_plain_placeholders_keep_their_saved_spellings(run: CliInvoke) -> None:
    text = "Merci {{name}} ({{ reference }}), de la part de {{\n business }}"
    assert run("settings", "set", f"sms_template={text}").exit_code == 0
    context = {"name": "Jane", "business": "Acme", "link": "https://r/x", "reference": "A1"}
    assert templating.compose_sms(text, context, "fr") == (
        "Merci Jane (A1), de la part de Acme https://r/x STOP pour ne plus recevoir de SMS"
    )


def store_unchecked(slack: SlackHarness, **texts: str) -> None:
    """Store texts as an older version allowed them, past today's validation."""
    current = slack.ops.policy(slack.ws).model_dump()
    old = WorkspacePolicy.model_construct(**{**current, **texts})
    slack.ops.update_policy(slack.ws, old, Actor(ADMIN, "boss"))


def test_a_text_stored_under_older_rules_fails_its_message_with_the_reason(
    slack: SlackHarness,
) -> None:
    slack.set_policy(send_window="always")
    store_unchecked(slack, sms_template=FILTER)
    number = slack.create("Jane Doe", phone="+33610203040", when="now")  # settings still read

    assert slack.app.dispatcher.run_until_idle() == 0
    assert slack.console.getvalue() == ""  # nothing sent
    detail = slack.ops.show(slack.ws, number)
    # A poison message: failed with its reason (and an alert), never retried.
    assert [m.status for m in detail.messages] == ["failed"]
    [event] = [e for e in detail.events if e.kind == "failed"]
    reason = str(event.detail)
    assert "sms_template can't be used" in reason
    assert "the upper filter is not allowed" in reason and "/reviews settings" in reason


def test_an_email_subject_stored_under_older_rules_is_not_rendered(slack: SlackHarness) -> None:
    slack.set_policy(send_window="always", method="email")
    store_unchecked(slack, email_subject=LOOP)
    number = slack.create("Jane Doe", email="jane@example.com", when="now")
    assert slack.app.dispatcher.run_until_idle() == 0
    assert slack.console.getvalue() == ""
    assert [m.status for m in slack.ops.show(slack.ws, number).messages] == ["failed"]


def test_filling_a_text_is_bounded() -> None:
    context = {"name": "x" * 100}
    assert templating.fill("{{ name }}" * 5, context, limit=500) == "x" * 500
    with pytest.raises(InvalidInput, match="over 500 characters"):
        templating.fill("{{ name }}" * 5 + "!", context, limit=500)


def test_the_scanner_reads_many_placeholders_and_names_the_first_bad_markup() -> None:
    """The scanner finds each opener and its closer in one pass (a lazy pattern rescanned the
    rest of the text from every unclosed `{{`). Asserted on what it finds, never on time."""
    many = "{{ name }} " * 20_000
    scanned = templating.scan(many)
    assert scanned.problem is None
    assert len(scanned.parts) == 20_001
    assert {name for _, name in scanned.parts} == {"name", None}

    unclosed = templating.scan("Hi {{ name }}\n" + "{{ " * 20_000)
    assert unclosed.problem is not None
    assert unclosed.problem.startswith("Template error on line 2: `{{ {{")
    assert "is not closed" in unclosed.problem

    tag_after_many = templating.scan("{{ name }}\n" * 5_000 + "{% if x %}")
    assert tag_after_many.problem is not None
    assert "line 5001: `{% if x %}` is a tag" in tag_after_many.problem
