"""/reviews through the real HTTP endpoint, signed like Slack, against the fake Slack Web API."""

from __future__ import annotations

from tests.slack_harness import SlackHarness, slack_fixture, text_of  # noqa: F401


def test_help_lists_every_subcommand_with_examples(slack: SlackHarness) -> None:
    response = slack.post_command("help")
    assert response.status_code == 200
    answer = slack.answer()
    text = text_of(answer)
    assert answer["response_type"] == "ephemeral"
    for example in (
        "/reviews send Jane Doe +33 6 10 20 30 40",
        "/reviews list",
        "/reviews show #42",
        "/reviews pause #42 43",
        "/reviews cancel all queued",
    ):
        assert example in text
