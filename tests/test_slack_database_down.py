"""With the database unreachable, every Slack request is still answered: HTTP 200, and a message.

The workspace's Database is pointed at a closed port after the set-up, so every read and write
of the listeners fails as it would in an outage, on SQLite and PostgreSQL runs alike.
"""

from __future__ import annotations

from datetime import timedelta

import requests
from sqlalchemy import create_engine

from tests.slack_harness import SlackHarness, slack_fixture, text_of, typed  # noqa: F401
from tests.test_slack_home import home_of, open_home

UNREACHABLE = "postgresql+psycopg://reviewops@127.0.0.1:1/reviewops?connect_timeout=2"
DATABASE_DOWN = "reviewops cannot reach its database; nothing was changed"


def cut_the_database(slack: SlackHarness) -> None:
    """Point the app's engines at a port nobody listens on, as an outage would."""
    slack.app.db.engine = create_engine(UNREACHABLE)
    slack.app.db.write_engine = slack.app.db.engine


def assert_answered(response: requests.Response) -> None:
    assert response.status_code == 200, (response.status_code, response.text)


def test_commands_are_answered_while_the_database_is_down(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    cut_the_database(slack)
    for words in ("list", "show #1", "pause #1"):
        assert_answered(slack.post_command(words))
        assert DATABASE_DOWN in text_of(slack.answer()), words


def test_a_button_click_is_answered_while_the_database_is_down(slack: SlackHarness) -> None:
    number = slack.create("Jane Doe")
    cut_the_database(slack)
    assert_answered(
        slack.post_action(slack.action_payload("list_row", selected=f"details:{number}"))
    )
    assert DATABASE_DOWN in text_of(slack.answer())


def test_a_modal_submission_keeps_the_modal_and_says_why(slack: SlackHarness) -> None:
    number = slack.create("Jane Doe", phone="+33610203040", delay=timedelta(days=1))
    slack.post_command(f"edit #{number}")
    view = slack.opened_view()
    cut_the_database(slack)
    response = slack.post_view_submission(view, {"reference": typed("C-3")})
    assert_answered(response)
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert DATABASE_DOWN in " ".join(answer["errors"].values())


def test_the_home_tab_says_the_database_is_down(slack: SlackHarness) -> None:
    cut_the_database(slack)
    assert_answered(open_home(slack))
    assert DATABASE_DOWN in text_of(home_of(slack))


def test_every_listener_answers_every_error(slack: SlackHarness) -> None:
    # An error escaping a listener after its ack makes Bolt answer Slack 404: none may escape.
    listeners = slack.app.slack.bolt._listeners  # noqa: SLF001 - Bolt keeps no public list
    unguarded = [
        listener.ack_function.__name__
        for listener in listeners
        if not getattr(listener.ack_function, "answers_every_error", False)
    ]
    assert listeners and unguarded == []
