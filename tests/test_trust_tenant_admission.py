"""Only installed workspaces act: a signed request from any other team creates nothing.

Single-workspace mode (SLACK_BOT_TOKEN): the token's team (auth.test) is the one installed.
OAuth mode: a team is installed while it holds an installation (tests/test_slack_oauth.py).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import requests
from sqlmodel import select

from handlers.blocks.card import ACTION_PAUSE
from handlers.install_words import NOT_INSTALLED
from store.models import ReviewRequest, Workspace
from tests.slack_harness import (
    CHANNEL,
    SIGNING_SECRET,
    TEAM_ID,
    USER,
    SlackHarness,
    sign,
    slack_fixture,  # noqa: F401
    text_of,
)
from tests.test_slack_oauth import Installed, install, served  # noqa: F401

OUTSIDER = "T0OUTSIDE"  # e.g. another organisation's user in a Slack Connect channel


def command_form(slack_app_id: str, response_url: str, trigger_id: str, team: str) -> str:
    return urlencode(
        {
            "team_id": team,
            "team_domain": "elsewhere",
            "channel_id": CHANNEL,
            "user_id": "U0OUTSIDER",
            "user_name": "mallory",
            "command": "/reviews",
            "text": "send Jane Doe +33 6 10 20 30 40",
            "api_app_id": slack_app_id,
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def outsider_command(slack: SlackHarness, team: str = OUTSIDER) -> requests.Response:
    slack.last_response_url = slack.fake.new_response_url()
    form = command_form(
        slack.fake.app_id, slack.last_response_url, slack.fake.issue_trigger_id(), team
    )
    return slack.post(form)


def workspaces(slack_db: Any) -> list[str]:
    with slack_db.read() as session:
        return [w.team_id for w in session.exec(select(Workspace)).all()]


def requests_stored(slack_db: Any) -> int:
    with slack_db.read() as session:
        return len(session.exec(select(ReviewRequest)).all())


def test_a_command_from_another_team_is_refused_and_creates_nothing(slack: SlackHarness) -> None:
    answer = outsider_command(slack)

    assert answer.status_code == 200
    assert answer.text == NOT_INSTALLED
    assert workspaces(slack.app.db) == [TEAM_ID]
    assert requests_stored(slack.app.db) == 0
    assert slack.fake.views == []
    # The installed team is served as before.
    slack.post_command("send Jane Doe +33 6 10 20 30 40")
    assert "#1" in text_of(slack.answer())


def test_a_button_from_another_team_is_answered_where_it_was_clicked(slack: SlackHarness) -> None:
    number = slack.create()
    payload = slack.action_payload(ACTION_PAUSE, str(number), ephemeral=False)
    payload["team"] = {"id": OUTSIDER, "domain": "elsewhere"}
    payload["user"]["team_id"] = OUTSIDER

    assert slack.post_action(payload).status_code == 200

    assert text_of(slack.answer()) == NOT_INSTALLED
    assert workspaces(slack.app.db) == [TEAM_ID]
    [detail] = [slack.ops.show(slack.ws, number)]
    assert detail.request.status == "queued"


def test_a_modal_submitted_from_another_team_is_told_in_the_modal(slack: SlackHarness) -> None:
    payload = {
        "type": "view_submission",
        "team": {"id": OUTSIDER, "domain": "elsewhere"},
        "user": {"id": "U0OUTSIDER", "username": "mallory", "team_id": OUTSIDER},
        "api_app_id": slack.fake.app_id,
        "trigger_id": slack.fake.issue_trigger_id(),
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "send_request",
            "state": {"values": {}},
        },
    }
    answer = slack.post_payload(payload)

    assert answer.status_code == 200
    assert answer.json()["response_action"] == "update"
    assert NOT_INSTALLED in json.dumps(answer.json()["view"])
    assert workspaces(slack.app.db) == [TEAM_ID]


def test_an_event_from_another_team_creates_nothing(slack: SlackHarness) -> None:
    body = {
        "team_id": OUTSIDER,
        "api_app_id": slack.fake.app_id,
        "event": {"type": "app_home_opened", "user": USER, "channel": "D1", "tab": "home"},
        "type": "event_callback",
        "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": OUTSIDER, "user_id": "UBOT", "is_bot": True}],
    }
    assert slack.post(json.dumps(body), content_type="application/json").status_code == 200
    assert workspaces(slack.app.db) == [TEAM_ID]
    assert slack.fake.calls_to("views.publish") == []


def test_oauth_a_team_without_installation_is_told_and_creates_nothing(
    served: Installed,  # noqa: F811
) -> None:
    response_url = served.fake.new_response_url()
    body = command_form(served.fake.app_id, response_url, served.fake.issue_trigger_id(), TEAM_ID)
    ts = int(time.time())
    answer = requests.post(
        f"{served.url}/slack/events",
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert served.fake.wait_for(
        lambda: [r for r in served.fake.responses if r["url"] == response_url]
    )
    [told] = [r for r in served.fake.responses if r["url"] == response_url]
    assert text_of(told) == NOT_INSTALLED
    assert workspaces(served.app.db) == []
    assert install(served).status_code == 200
    assert workspaces(served.app.db) == [TEAM_ID]
